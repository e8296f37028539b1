"""Errors that end a command with one line on stderr (exit 2); `describe` for details."""

import re

# Object reprs carry memory addresses ("<_io.BytesIO object at 0x7f...>"): in a
# detail they would make the tables differ from one run of the same build to the next.
_OBJECT_REPR = re.compile(r"<[^<>]*? at 0x[0-9a-fA-F]+>")


def describe(exc: BaseException) -> str:
    """`Type: message` of an exception, without memory addresses, at most 300 chars."""
    return _OBJECT_REPR.sub("the data", f"{type(exc).__name__}: {exc}")[:300]


class UsageError(Exception):
    """A bad config, argument or missing file: the user must fix their input."""

    exit_code = 2


class ConfigError(UsageError):
    """A pipeline YAML that does not match the schema."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}" if where else message)


class ExclusionError(UsageError):
    """An exclusion set that cannot be read: missing, empty, corrupt or not a set."""
