"""Pipeline YAML: schema, defaults and validation.

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
from irdata.settings_schema import TABLE_HEAD, Field, GiB, MiB, fill_section, read_yaml, table_rows

SOURCE_KINDS = ("urls", "dir", "archive")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
URL_LIST_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq", ".jsonl", ".ndjson", ".json")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _section(**fields: Field) -> dict[str, Field]:
    return fields


FETCH = _section(
    threads=Field("int", 16, "concurrent downloads inside one partition", 1),
    per_host=Field("int", 4, "requests in flight per host (per worker process)", 1),
    retries=Field("int", 3, "retries for 5xx, 429 and connection errors", 0),
    backoff=Field("float", 0.5, "exponential backoff factor in seconds (with jitter)", 0),
    backoff_max=Field("float", 30.0, "largest wait between retries, seconds", 0),
    retry_after_max=Field("float", 60.0, "largest Retry-After honoured, seconds", 0),
    connect_timeout=Field("float", 10.0, "connect timeout, seconds", 0.001),
    read_timeout=Field("float", 30.0, "timeout between two reads, seconds", 0.001),
    total_timeout=Field("float", 300.0, "deadline for one whole download, seconds", 0.001),
    max_bytes=Field("bytes", 64 * MiB, "byte cap per image; reading stops past it", 1),
    max_redirects=Field("int", 5, "redirects followed before giving up", 0),
    user_agent=Field("str", f"irdata/{__version__} (+https://github.com/irdata/irdata)",
                     "User-Agent header"),
    allow_private_networks=Field("bool", False,
                                 "allow loopback, private and link-local addresses"),
    respect_optout=Field("bool", True, "drop images served with X-Robots-Tag noai/noimageai"),
    use_env_proxies=Field("bool", False, "use HTTP(S)_PROXY from the environment"),
    archive_max_bytes=Field("bytes", 256 * GiB, "byte cap for one remote archive download", 1),
    archive_timeout=Field("float", 86400.0, "deadline for one remote archive download, seconds",
                          0.001),
)
INSPECT = _section(
    max_pixels=Field("int", 300_000_000, "decompression-bomb limit (width x height)", 1),
    min_side=Field("int", 512, "images whose short side is smaller are dropped (too_small)", 1),
    threads=Field("int", 2, "images decoded, inspected and cut into patch cells at once inside "
                  "one task (each holds one decoded image)", 1),
)
QUALITY = _section(
    enabled=Field("bool", True, "drop sources that fail a quality gate; false: figures are "
                  "still recorded, nothing is dropped"),
    min_jpeg_quality=Field("int", 60, "JPEGs whose quality (IJG scale, from the quantisation "
                           "tables) is lower are dropped (low_jpeg_quality); 0 turns it off", 0),
    graphics_flat_share=Field("float", 0.2, "graphics: share of exactly one-colour 8x8 "
                              "blocks above this ...", 0),
    graphics_palette_share=Field("float", 0.74, "... and share of pixels in the 8 most "
                                 "frequent colours above this ...", 0),
    graphics_min_sharpness=Field("float", -14.2, "... and sharpness (dB) at least this (the "
                                 "hard edges of drawn shapes and text; fog and sky are soft): "
                                 "dropped (graphics)", None),
    upscale_periodicity=Field("float", 2.23, "upscaled: interpolation periodicity of the "
                              "textured cells (median) above this ...", 0),
    upscale_sharpness=Field("float", -10.0, "... and sharpness (dB) below this: dropped "
                            "(upscaled)", None),
    min_sharpness=Field("float", -20.7, "sources whose sharpness (finest-octave share of the "
                        "detail at native resolution, dB, median over textured cells) is "
                        "lower are dropped (blurry)", None),
    max_noise=Field("float", 5.71, "sources whose noise (median over cells of the native-"
                    "resolution noise deviation, grey levels) is higher are dropped (noisy)", 0),
    max_clipped=Field("float", 0.6, "sources with a larger share of pixels with a channel >= "
                      "250 are dropped (clipped); 1 turns it off", 0),
    max_crushed=Field("float", 0.6, "sources with a larger share of pixels with every channel "
                      "<= 8 are dropped (crushed); 1 turns it off", 0),
)
REMOVED = {
    "quality.min_highlights": "a photo's darkest tones are its style, not a defect; "
                              "crushed shadows are 'quality.max_crushed'",
    "quality.max_brightness": "a photo's brightness is its style, not a defect; blown "
                              "highlights are 'quality.max_clipped'",
}
DEDUPE = _section(
    enabled=Field("bool", True, "find exact and near duplicates; keep one image per cluster"),
    phash_distance=Field("int", 8, "largest pHash Hamming distance of a near-duplicate "
                         "candidate (0-8)", 0),
    dhash_distance=Field("int", 9, "largest dHash distance that confirms a pHash candidate", 0),
)
PATCH = _section(
    size=Field("int", 512, "patch side in pixels (non-overlapping, centred grid)", 16),
    flat_block=Field("int", 16, "block side for the flatness test, pixels (even, >= 4)", 4),
    flat_threshold=Field("float", 4.0, "a block is flat when its gradient energy (RMS "
                         "neighbour difference of half-resolution luminance) is below this at "
                         "mid-grey (lower in dark tones) above the cell's noise floor", 0),
    max_flat_fraction=Field("float", 0.5, "cells with a larger flat fraction are dropped "
                            "(flat)", 0),
    max_clipped=Field("float", 0.5, "cells with a larger share of pixels with a channel >= "
                      "250 are dropped (clipped); 1 turns it off", 0),
    max_crushed=Field("float", 0.5, "cells with a larger share of pixels with every channel "
                      "<= 8 are dropped (clipped); 1 turns it off", 0),
    max_blockiness=Field("float", 1.75, "cells whose JPEG blockiness (8x8 grid lines in the "
                         "spectrum over their neighbours; 1 = none) is higher are dropped "
                         "(blocky)", 0),
    max_noise=Field("float", 8.9, "cells whose noise deviation (grey levels, smoothest "
                    "blocks, native resolution) is higher are dropped (noisy)", 0),
    min_sharpness=Field("float", -22.96, "cells whose sharpness (finest-octave share of the "
                        "detail, dB, worse axis) is lower are dropped (blurry)", None),
    png_encoder=Field("str", "isal", "PNG encoder for stored patches: isal (ISA-L deflate, "
                      "~4x faster than opencv's level 1 + RLE and ~9% smaller) or opencv "
                      "(libpng + zlib)",
                      choices=("isal", "opencv")),
    png_compression=Field("int", 1, "PNG compression level for stored patches: 0-3 with "
                          "isal, zlib's 0-9 with opencv", 0),
    png_strategy=Field("str", "rle", "PNG zlib strategy for stored patches (opencv only)",
                       choices=("default", "filtered", "huffman", "rle", "fixed")),
    png_filter=Field("str", "up", "PNG row filter for stored patches: up, sub or none; with "
                     "opencv also avg, paeth, fast and adaptive (libpng's per-row choice, "
                     "~1.8x slower, ~9% smaller)",
                     choices=("up", "sub", "none", "avg", "paeth", "fast", "adaptive")),
)
DEGRADE_KINDS = ["gaussian_noise", "random_noise", "jpeg", "rain", "haze", "blur", "mask"]
DEGRADE = _section(
    variants=Field("int", 0, "K degraded inputs per clean patch; 0 turns the stage off", 0),
    kinds=Field("list", DEGRADE_KINDS, "kinds drawn from (uniformly) for each variant"),
    params=Field("dict", {}, "per-kind settings overriding irdata/degrade defaults, e.g. "
                 "{jpeg: {quality: [20, 60]}}"),
    fraction=Field("float", 1.0, "share of kept patches that get pairs (chosen per key)", 0),
    policy=Field("dict", None, "draw each variant from a named policy instead of `kinds`, "
                 "e.g. {name: dynet_pretrain, p_degrade: 0.5, p_mask: 0.3}"),
)
TOP = _section(
    output=Field("str", None, "output folder or fsspec URL (or --out)"),
    seed=Field("int", 0, "run seed: every random choice derives from (seed, key)"),
    images_per_partition=Field("int", 1000, "source items per partition (one Dask task)", 1),
)
SECTIONS = {"fetch": FETCH, "inspect": INSPECT, "quality": QUALITY, "dedupe": DEDUPE,
            "patch": PATCH, "degrade": DEGRADE}
SOURCE_FIELDS = _section(
    name=Field("str", None, "unique source name"),
    urls=Field("str", None, "URL list: CSV, TSV, Parquet or JSONL with a `url` column"),
    dir=Field("str", None, "folder of images, searched recursively"),
    archive=Field("str", None, "local or remote .zip / .tar / .tar.gz / .tgz"),
    license=Field("str", "", "licence for items whose list has no `license` value"),
    url_column=Field("str", "url", "column holding the URL in a URL list"),
)


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
    known = set(TOP) | set(SECTIONS) | {"sources"}
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
    return config


def load(path: str) -> dict:
    """Read and validate a pipeline YAML file."""
    return validate(read_yaml(path), path, os.path.dirname(os.path.abspath(path)))


def describe() -> str:
    """Markdown table of every setting with its default: the source of pipelines/README.md."""
    rows = TABLE_HEAD + table_rows("", TOP)
    for section, fields in SECTIONS.items():
        rows += table_rows(f"{section}.", fields)
    return "\n".join(rows + table_rows("sources[].", SOURCE_FIELDS))
