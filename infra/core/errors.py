"""Domain errors: each carries a message a user can act on and the exit code to leave with.

Exit codes: 2 for bad input (the user can fix the command or the file), 1 for an operation
that failed (AWS, the cluster or the database said no).
"""


class GifstackError(Exception):
    """Base of every error gifstack reports to a user instead of a traceback."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class BadInput(GifstackError):
    """The command line, a params file or the local setup is wrong; the user can fix it."""

    exit_code = 2


class OperationFailed(GifstackError):
    """Something we asked AWS, Kubernetes or PostgreSQL to do did not succeed."""

    exit_code = 1
