"""gifstack's command line. Thin invoke tasks: each calls into infra/ and holds no logic.

`invoke --list` shows them all; `invoke --help TASK` shows a task's flags.
"""

import sys

from invoke import Collection, task

from infra.cli import reported

# --- tests -------------------------------------------------------------------------------


@task(help={"args": "Extra arguments for pytest, e.g. '-k outage -x'."})
def test(c, args=""):
    """Run the whole test suite (pytest)."""
    c.run(f"{sys.executable} -m pytest {args}", pty=False)


# --- collections -------------------------------------------------------------------------

ns = Collection(test)
