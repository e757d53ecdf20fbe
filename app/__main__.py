"""`python -m app serve|migrate|seed`."""

from app.cli import main

if __name__ == "__main__":
    main()
