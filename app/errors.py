"""The service's own errors (the image ships app/ alone, so not infra.errors).

Each carries a message a user can act on and the exit code the command leaves with:
2 when the configuration is wrong, 1 when an operation (database, AWS) failed.
"""


class AppError(Exception):
    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigError(AppError):
    """An environment variable or command-line option is missing or invalid."""

    exit_code = 2


class OperationError(AppError):
    """The database or AWS refused or failed an operation."""

    exit_code = 1
