"""Errors that end a command with one clear line on stderr and exit code 2."""


class UsageError(Exception):
    """A bad config, argument or missing file: the user must fix their input."""

    exit_code = 2


class ConfigError(UsageError):
    """A pipeline YAML that does not match the schema."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)
