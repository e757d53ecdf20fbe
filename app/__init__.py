"""The GIF service: a random GIF from PostgreSQL over HTTP (`python -m app serve|migrate|seed`)."""
