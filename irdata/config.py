"""Pipeline YAML: checked against the settings declared in pipeline_settings.yaml.

A config is loaded into a plain dict (easy to ship to Dask workers and to record
in run.json) with every default filled in. Every problem raises ConfigError whose
message names the file and the key, so the CLI prints one line and exits 2.
"""

from __future__ import annotations

import os
import re
from typing import Any

from irdata import __version__
from irdata.errors import ConfigError
from irdata.imaging import png_writer
from irdata.settings_schema import TABLE_HEAD, fill_section, read_fields, read_yaml, table_rows
from irdata.storage import is_store_url

SOURCE_KINDS = ("urls", "dir", "archive")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
URL_LIST_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".jsonl", ".ndjson", ".json")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# every setting, its default, bound and doc: data, in pipeline_settings.yaml
SETTINGS_FILE = os.path.join(os.path.dirname(__file__), "pipeline_settings.yaml")
_DECLARED = read_fields(SETTINGS_FILE, version=__version__)
TOP = _DECLARED["top"]
SECTIONS = {name: _DECLARED[name] for name in
            ("fetch", "inspect", "quality", "dedupe", "patch", "degrade")}
FETCH, INSPECT, QUALITY, DEDUPE, PATCH, DEGRADE = SECTIONS.values()
SOURCE_FIELDS = _DECLARED["source"]
EXCLUSION_FIELDS = _DECLARED["exclusion"]
EXCLUSION_KINDS = ("dir", "archive", "hashes")
DEGRADE_KINDS = DEGRADE["kinds"].default
REMOVED = {
    "quality.min_highlights": "a photo's darkest tones are its style, not a defect; "
                              "crushed shadows are 'quality.max_crushed'",
    "quality.max_brightness": "a photo's brightness is its style, not a defect; blown "
                              "highlights are 'quality.max_clipped'",
}


def is_remote(locator: str) -> bool:
    """True for http(s) URLs."""
    return locator.lower().startswith(("http://", "https://"))


def resolve_path(path: str, config_dir: str) -> str | None:
    """A relative path is looked up from the current directory, then from the
    config file's directory. Returns an absolute path, or None if neither exists."""
    expanded = os.path.expanduser(path)
    candidates = [expanded] if os.path.isabs(expanded) else [
        os.path.abspath(expanded), os.path.abspath(os.path.join(config_dir, expanded))]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    return None


def _check_source(raw: Any, index: int, where: str, config_dir: str) -> dict:
    label = f"sources[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(where, f"'{label}' must be a mapping with a name and one of "
                                 f"{', '.join(SOURCE_KINDS)}")
    src = fill_section(SOURCE_FIELDS, raw, where, f"{label}.", REMOVED)
    if not src["name"]:
        raise ConfigError(where, f"'{label}.name' is required")
    if not NAME_RE.match(src["name"]):
        raise ConfigError(where, f"'{label}.name' must be 1-64 letters, digits, '_', '-' "
                                 f"or '.', got {src['name']!r}")
    kinds = [k for k in SOURCE_KINDS if src[k]]
    if not kinds:
        raise ConfigError(where, f"'{label}' ({src['name']}) needs one of "
                                 f"{', '.join(SOURCE_KINDS)}")
    if len(kinds) > 1:
        raise ConfigError(where, f"'{label}' ({src['name']}) has {' and '.join(kinds)}: "
                                 f"give exactly one of {', '.join(SOURCE_KINDS)}")
    kind = kinds[0]
    src["kind"] = kind
    location = src[kind]
    if kind == "archive" and is_remote(location):
        return src
    if kind == "archive" and not location.lower().endswith(ARCHIVE_SUFFIXES):
        raise ConfigError(where, f"'{label}.archive': unsupported archive type {location!r} "
                                 f"(use {', '.join(ARCHIVE_SUFFIXES)})")
    if kind == "urls" and not location.lower().endswith(URL_LIST_SUFFIXES):
        raise ConfigError(where, f"'{label}.urls': unsupported URL list type {location!r} "
                                 f"(use .csv, .tsv, .parquet or .jsonl)")
    if is_store_url(location):  # s3://... : listed (and checked) when the plan is made
        return src
    resolved = resolve_path(location, config_dir)
    if resolved is None:
        raise ConfigError(where, f"'{label}.{kind}': file not found: {location}")
    if kind == "dir" and not os.path.isdir(resolved):
        raise ConfigError(where, f"'{label}.dir': not a folder: {location}")
    if kind != "dir" and not os.path.isfile(resolved):
        raise ConfigError(where, f"'{label}.{kind}': not a file: {location}")
    src[kind] = resolved
    return src


def _check_patch(patch: dict, where: str) -> None:
    if patch["flat_block"] % 2:
        raise ConfigError(where, f"'patch.flat_block' must be even, got {patch['flat_block']}")
    if patch["flat_block"] > patch["size"]:
        raise ConfigError(where, f"'patch.flat_block' ({patch['flat_block']}) must not exceed "
                                 f"'patch.size' ({patch['size']})")
    isal = patch["png_encoder"] == "isal"
    most = max(png_writer.LEVELS) if isal else 9
    if patch["png_compression"] > most:
        raise ConfigError(where, f"'patch.png_compression' must be 0-{most} with "
                                 f"png_encoder {patch['png_encoder']}, "
                                 f"got {patch['png_compression']}")
    if isal and patch["png_filter"] not in png_writer.FILTERS:
        raise ConfigError(where, f"'patch.png_filter' {patch['png_filter']!r} needs "
                                 f"png_encoder opencv (isal writes up, sub or none)")


def _check_degrade(settings: dict, where: str) -> None:
    from irdata import degrade

    unknown = [k for k in list(settings["kinds"]) + list(settings["params"])
               if k not in degrade.KINDS]
    if unknown:
        raise ConfigError(where, f"'degrade': unknown kind {unknown[0]!r} "
                                 f"(known: {', '.join(sorted(degrade.KINDS))})")
    if settings["variants"] and not settings["kinds"]:
        raise ConfigError(where, "'degrade.kinds' must name at least one kind")
    if settings["fraction"] > 1:
        raise ConfigError(where, f"'degrade.fraction' must be <= 1, got {settings['fraction']}")
    if settings["policy"] is not None:
        try:
            degrade.resolve_policy(settings["policy"])
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(where, f"'degrade.policy': {exc}") from None
    for kind, params in settings["params"].items():
        try:
            degrade.sample(kind, degrade.rng_for(0, "config-check"), params)
        except (ValueError, TypeError) as exc:
            raise ConfigError(where, f"'degrade.params.{kind}': {exc}") from None


def validate(raw: Any, where: str = "", config_dir: str = ".") -> dict:
    """Check a parsed YAML mapping against the schema; return it with defaults."""
    if raw is None:
        raise ConfigError(where, "the file is empty: a pipeline needs at least 'sources'")
    if not isinstance(raw, dict):
        raise ConfigError(where, "the pipeline must be a YAML mapping")
    known = set(TOP) | set(SECTIONS) | {"sources", "exclude"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(where, f"unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
    config = fill_section(TOP, {k: raw[k] for k in TOP if k in raw}, where, "", REMOVED)
    for name, fields in SECTIONS.items():
        config[name] = fill_section(fields, raw.get(name), where, f"{name}.", REMOVED)
    _check_patch(config["patch"], where)
    _check_degrade(config["degrade"], where)
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources:
        raise ConfigError(where, "'sources' must be a non-empty list")
    config["sources"] = [_check_source(s, i, where, config_dir) for i, s in enumerate(sources)]
    names = [s["name"] for s in config["sources"]]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(where, f"source name '{dup}' is used twice")
    config["exclude"] = _check_exclusions(raw.get("exclude"), where, config_dir)
    return config


def _check_exclusions(raw: Any, where: str, config_dir: str) -> list[dict]:
    """`exclude:`: a list of evaluation sets, each a name and one of dir, archive, hashes
    (paths resolved as sources' are); the sets themselves are read before the build."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(where, "'exclude' must be a list of {name, dir | archive | hashes}")
    sets = []
    for index, spec in enumerate(raw):
        label = f"exclude[{index}]"
        if not isinstance(spec, dict):
            raise ConfigError(where, f"'{label}' must be a mapping with a name and one of "
                                     f"{', '.join(EXCLUSION_KINDS)}")
        found = fill_section(EXCLUSION_FIELDS, spec, where, f"{label}.")
        if not found["name"] or not NAME_RE.match(found["name"]):
            raise ConfigError(where, f"'{label}.name' must be 1-64 letters, digits, '_', '-' "
                                     f"or '.', got {found['name']!r}")
        kinds = [k for k in EXCLUSION_KINDS if found[k]]
        if len(kinds) != 1:
            raise ConfigError(where, f"'{label}' ({found['name']}) needs exactly one of "
                                     f"{', '.join(EXCLUSION_KINDS)}")
        sets.append(_exclusion_location(found, kinds[0], where, label, config_dir))
    names = [s["name"] for s in sets]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(where, f"exclusion set name '{dup}' is used twice")
    return sets


def _exclusion_location(found: dict, kind: str, where: str, label: str,
                        config_dir: str) -> dict:
    """{name, kind, path, url}: a local path resolved as sources' are, or a URL (a web
    archive or hash list, or any set on a store), fetched before the build."""
    given = found[kind]
    if is_remote(given) and kind == "dir":
        raise ConfigError(where, f"'{label}.dir': a web URL; a folder is a local path or "
                                 f"a store URL such as s3://bucket/set/ (or use 'archive')")
    if is_remote(given) or is_store_url(given):
        return {"name": found["name"], "kind": kind, "path": "", "url": given}
    location = resolve_path(given, config_dir)
    if location is None:
        raise ConfigError(where, f"'{label}.{kind}': not found: {given}")
    return {"name": found["name"], "kind": kind, "path": location, "url": ""}


def load(path: str) -> dict:
    """Read and validate a pipeline YAML file."""
    return validate(read_yaml(path), path, os.path.dirname(os.path.abspath(path)))


def describe() -> str:
    """Markdown table of every setting with its default: the source of pipelines/README.md."""
    rows = TABLE_HEAD + table_rows("", TOP)
    for section, fields in SECTIONS.items():
        rows += table_rows(f"{section}.", fields)
    rows += table_rows("sources[].", SOURCE_FIELDS)
    return "\n".join(rows + table_rows("exclude[].", EXCLUSION_FIELDS))
