"""The settings kit shared by the pipeline config and the training config: typed
fields with defaults and docs, section checking with one-line errors, YAML reading,
and the Markdown settings tables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import yaml

try:  # libyaml's safe loader where the wheel has it (faster than pure Python)
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader

from irdata.errors import ConfigError

MiB = 1024 * 1024
GiB = 1024 * MiB
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": MiB, "G": GiB, "T": 1024 * GiB}


@dataclass(frozen=True)
class Field:
    """One scalar setting: its type, default, lower bound and one-line doc."""

    kind: str  # "int", "float", "bool", "str", "bytes"
    default: Any
    doc: str
    minimum: float | None = None
    choices: tuple | None = None


def parse_bytes(value: Any) -> int:
    """Accept 1048576, '64MiB', '1.5 GB' (binary units) and return bytes."""
    if isinstance(value, bool):
        raise ValueError("expected a byte size")
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValueError(f"expected a byte size such as 67108864 or '64MiB', got {value!r}")
    number, unit = match.groups()
    return int(float(number) * _UNITS[(unit or "").upper()[:1]])


def coerce(kind: str, value: Any) -> Any:
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "bytes":
        return parse_bytes(value)
    if kind == "list" and isinstance(value, list):
        return list(value)
    if kind == "dict" and isinstance(value, dict):
        return dict(value)
    raise ValueError(f"expected {'a ' if kind != 'int' else 'an '}{_KIND_WORDS[kind]}, "
                     f"got {value!r}")


_KIND_WORDS = {"int": "integer", "float": "number", "bool": "boolean (true/false)",
               "str": "string", "bytes": "byte size", "list": "list", "dict": "mapping"}


def fill_section(fields: dict[str, Field], given: Any, where: str, prefix: str,
                 removed: dict[str, str] | None = None) -> dict:
    """`given` checked against `fields` (unknown or removed keys, types, choices,
    bounds) with every default filled in; ConfigError names `where` and the key."""
    removed_keys = removed or {}
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ConfigError(where, f"'{prefix.rstrip('.')}' must be a mapping")
    unknown = sorted(set(given) - set(fields))
    gone = [f"{prefix}{name}" for name in unknown if f"{prefix}{name}" in removed_keys]
    if gone:
        raise ConfigError(where, f"'{gone[0]}' was removed: {removed_keys[gone[0]]}")
    if unknown:
        raise ConfigError(where, f"unknown key '{prefix}{unknown[0]}' "
                                 f"(known: {', '.join(sorted(fields))})")
    out = {}
    for name, spec in fields.items():
        value = given.get(name, spec.default)
        if value is not None:
            try:
                value = coerce(spec.kind, value)
            except ValueError as exc:
                raise ConfigError(where, f"'{prefix}{name}': {exc}") from None
            if spec.choices and value not in spec.choices:
                raise ConfigError(where, f"'{prefix}{name}' must be one of "
                                         f"{', '.join(spec.choices)}, got {value!r}")
            if spec.minimum is not None and value < spec.minimum:
                raise ConfigError(where, f"'{prefix}{name}' must be >= {spec.minimum}, "
                                         f"got {value!r}")
        out[name] = value
    return out


def read_yaml(path: str, what: str = "config file") -> Any:
    """The parsed YAML of a file; ConfigError (one line) for a missing file, a folder,
    bad YAML or bad text."""
    if os.path.isdir(path):
        raise ConfigError("", f"{what} is a folder, not a YAML file: {path}")
    if not os.path.isfile(path):
        raise ConfigError("", f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(path, f"not valid YAML{line}: "
                                f"{getattr(exc, 'problem', None) or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "not a UTF-8 text file") from None


def read_fields(path: str, **variables: str) -> dict[str, dict[str, Field]]:
    """Sections of Fields from a settings file (section -> name -> kind, default,
    minimum, choices, doc); `{name}` in a str default is filled from `variables`,
    a bytes default may be written '64MiB'."""
    with open(path, encoding="utf-8") as fh:
        declared = yaml.load(fh, Loader=SafeLoader)
    return {section: {name: _field(spec, variables) for name, spec in fields.items()}
            for section, fields in declared.items()}


def _field(spec: dict, variables: dict) -> Field:
    default = spec.get("default")
    if spec["kind"] == "bytes":
        default = parse_bytes(default)
    elif spec["kind"] == "str" and default is not None:
        default = default.format(**variables)
    choices = spec.get("choices")
    return Field(spec["kind"], default, spec["doc"], spec.get("minimum"),
                 tuple(choices) if choices is not None else None)


def table_rows(prefix: str, fields: dict[str, Field], default=None) -> list[str]:
    """Markdown rows `| prefix+name | default | doc |`; `default(name, spec)` may
    replace the shown default."""
    rows = []
    for name, spec in fields.items():
        shown = default(name, spec) if default else spec.default
        rows.append(f"| `{prefix}{name}` | `{shown}` | {spec.doc} |")
    return rows


TABLE_HEAD = ["| key | default | meaning |", "| --- | --- | --- |"]
