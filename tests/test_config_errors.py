"""The command line's answer to bad input: exactly one clear line on stderr, exit
code 2, no traceback. Each case asserts the full message a user would read."""

from __future__ import annotations

import subprocess
import sys

import pytest

from irdata import cli

OK_SOURCE = "sources:\n  - {name: photos, dir: pictures}\n"

# (case id, pipeline YAML text or None for no file, extra argv, expected stderr line).
# {p} is the pipeline file name as given on the command line.
CASES = [
    ("missing-config", None, [],
     "irdata: error: config file not found: {p}"),
    ("invalid-yaml", "sources: [\n  - name: a\n", [],
     "irdata: error: {p}: not valid YAML at line 2: expected the node content, but found '-'"),
    ("empty-file", "", [],
     "irdata: error: {p}: the file is empty: a pipeline needs at least 'sources'"),
    ("not-a-mapping", "- photos\n", [],
     "irdata: error: {p}: the pipeline must be a YAML mapping"),
    ("unknown-top-key", "outptu: out\n" + OK_SOURCE, [],
     "irdata: error: {p}: unknown key 'outptu' "
     "(known: dedupe, degrade, exclude, fetch, images_per_partition, inspect, output, patch, quality, seed, "
     "sources, storage_options)"),
    ("unknown-fetch-key", "fetch: {thread: 4}\n" + OK_SOURCE, [],
     "irdata: error: {p}: unknown key 'fetch.thread' (known: allow_private_networks, "
     "archive_max_bytes, archive_timeout, backoff, backoff_max, cluster_per_host, connect_timeout, max_bytes, max_redirects, "
     "per_host, read_timeout, respect_optout, retries, retry_after_max, threads, "
     "total_timeout, use_env_proxies, user_agent)"),
    ("fetch-not-mapping", "fetch: 4\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'fetch' must be a mapping"),
    ("threads-not-int", "fetch: {threads: many}\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'fetch.threads': expected an integer, got 'many'"),
    ("threads-zero", "fetch: {threads: 0}\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'fetch.threads' must be >= 1, got 0"),
    ("seed-string", 'seed: "x"\n' + OK_SOURCE, [],
     "irdata: error: {p}: 'seed': expected an integer, got 'x'"),
    ("bool-string", 'fetch: {allow_private_networks: "yes"}\n' + OK_SOURCE, [],
     "irdata: error: {p}: 'fetch.allow_private_networks': expected a boolean (true/false), "
     "got 'yes'"),
    ("isal-level", "patch: {png_compression: 6}\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'patch.png_compression' must be 0-3 with png_encoder isal, got 6"),
    ("isal-filter", "patch: {png_filter: paeth}\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'patch.png_filter' 'paeth' needs png_encoder opencv "
     "(isal writes up, sub or none)"),
    ("opencv-level", "patch: {png_encoder: opencv, png_compression: 10}\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'patch.png_compression' must be 0-9 with png_encoder opencv, "
     "got 10"),
    ("unknown-encoder", "patch: {png_encoder: zopfli}\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'patch.png_encoder' must be one of isal, opencv, got 'zopfli'"),
    ("bad-byte-size", "fetch: {max_bytes: lots}\n" + OK_SOURCE, [],
     "irdata: error: {p}: 'fetch.max_bytes': expected a byte size such as 67108864 or "
     "'64MiB', got 'lots'"),
    ("no-sources", "seed: 1\n", [],
     "irdata: error: {p}: 'sources' must be a non-empty list"),
    ("source-not-mapping", "sources:\n  - pictures\n", [],
     "irdata: error: {p}: 'sources[0]' must be a mapping with a name and one of "
     "urls, dir, archive"),
    ("source-without-kind", "sources:\n  - {name: photos}\n", [],
     "irdata: error: {p}: 'sources[0]' (photos) needs one of urls, dir, archive"),
    ("source-with-two-kinds",
     "sources:\n  - {name: photos, dir: pictures, urls: lists/photos.csv}\n", [],
     "irdata: error: {p}: 'sources[0]' (photos) has urls and dir: give exactly one of "
     "urls, dir, archive"),
    ("unknown-source-key", "sources:\n  - {name: photos, dir: pictures, licence: cc0}\n", [],
     "irdata: error: {p}: unknown key 'sources[0].licence' "
     "(known: archive, dir, license, name, url_column, urls)"),
    ("bad-source-name", "sources:\n  - {name: my photos, dir: pictures}\n", [],
     "irdata: error: {p}: 'sources[0].name' must be 1-64 letters, digits, '_', '-' or '.', "
     "got 'my photos'"),
    ("missing-url-list", "sources:\n  - {name: photos, urls: lists/missing.csv}\n", [],
     "irdata: error: {p}: 'sources[0].urls': file not found: lists/missing.csv"),
    ("url-list-type", "sources:\n  - {name: photos, urls: lists/photos.txt}\n", [],
     "irdata: error: {p}: 'sources[0].urls': unsupported URL list type 'lists/photos.txt' "
     "(use .csv, .tsv, .parquet or .jsonl)"),
    ("missing-dir", "sources:\n  - {name: photos, dir: elsewhere}\n", [],
     "irdata: error: {p}: 'sources[0].dir': file not found: elsewhere"),
    ("archive-type", "sources:\n  - {name: photos, archive: photos.rar}\n", [],
     "irdata: error: {p}: 'sources[0].archive': unsupported archive type 'photos.rar' "
     "(use .zip, .tar, .tar.gz, .tgz)"),
    ("duplicate-source-names",
     "sources:\n  - {name: photos, dir: pictures}\n  - {name: photos, urls: lists/photos.csv}\n",
     [], "irdata: error: {p}: source name 'photos' is used twice"),
    ("no-output", OK_SOURCE, [],
     "irdata: error: {p}: no output folder: set 'output' or pass --out"),
    ("unknown-stage", OK_SOURCE, ["--out", "out", "--stages", "fetch,train"],
     "irdata build: argument --stages: unknown stage 'train' (available: fetch, dedupe, patch, degrade, manifest) "
     "(see 'irdata build --help')"),
    ("empty-stages", OK_SOURCE, ["--out", "out", "--stages", ","],
     "irdata build: argument --stages: no stage given (available: fetch, dedupe, patch, degrade, manifest) "
     "(see 'irdata build --help')"),
    ("zero-workers", OK_SOURCE, ["--out", "out", "--workers", "0"],
     "irdata build: argument --workers: expected a positive integer, got '0' "
     "(see 'irdata build --help')"),
    ("unknown-option", OK_SOURCE, ["--out", "out", "--threads", "2"],
     "irdata: unrecognized arguments: --threads 2 (see 'irdata --help')"),
]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory with a picture folder and a URL list, as users have."""
    (tmp_path / "pictures").mkdir()
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "photos.csv").write_text("url\nhttps://example.com/a.jpg\n")
    (tmp_path / "lists" / "photos.txt").write_text("https://example.com/a.jpg\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _pipeline(text: str | None) -> str:
    name = "pipeline.yaml"
    if text is not None:
        with open(name, "w", encoding="utf-8") as fh:
            fh.write(text)
    return name


@pytest.mark.parametrize("text, extra, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_build_error_is_one_line(project, capsys, text, extra, expected):
    name = _pipeline(text)
    code = cli.main(["build", name, *extra])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == expected.format(p=name) + "\n"
    assert not (project / "out").exists()  # nothing is started on bad input


def test_config_path_is_a_folder(project, capsys):
    assert cli.main(["build", "pictures"]) == 2
    assert capsys.readouterr().err == (
        "irdata: error: config file is a folder, not a YAML file: pictures\n")


def test_not_utf8_config(project, capsys):
    (project / "pipeline.yaml").write_bytes(b"sources:\n  - {name: caf\xe9, dir: pictures}\n")
    assert cli.main(["build", "pipeline.yaml"]) == 2
    assert capsys.readouterr().err == "irdata: error: pipeline.yaml: not a UTF-8 text file\n"


def test_missing_command(capsys):
    assert cli.main([]) == 2
    assert capsys.readouterr().err == (
        "irdata: a command is required: build, demo, degrade, verify, report, show, train, "
        "eval, restore, pairs, exclusions, check-overlap (see 'irdata --help')\n")


def test_unknown_command(capsys):
    assert cli.main(["bild"]) == 2
    assert capsys.readouterr().err == (
        "irdata: argument COMMAND: invalid choice: 'bild' (choose from 'build', 'demo', 'degrade', "
        "'verify', 'report', 'show', 'train', 'eval', 'restore', 'pairs', 'exclusions', "
        "'check-overlap') "
        "(see 'irdata --help')\n")


def test_build_without_pipeline(capsys):
    assert cli.main(["build"]) == 2
    assert capsys.readouterr().err == (
        "irdata build: the following arguments are required: pipeline "
        "(see 'irdata build --help')\n")


def test_relative_list_is_found_next_to_the_config(project, capsys):
    """A list path relative to the config's folder is valid from any working dir:
    the only complaint left is the missing output."""
    (project / "conf").mkdir()
    (project / "conf" / "lists").mkdir()
    (project / "conf" / "lists" / "near.csv").write_text("url\n")
    (project / "conf" / "p.yaml").write_text("sources:\n  - {name: near, urls: lists/near.csv}\n")
    assert cli.main(["build", "conf/p.yaml"]) == 2
    assert capsys.readouterr().err == (
        "irdata: error: conf/p.yaml: no output folder: set 'output' or pass --out\n")


def _run_cli(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irdata", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("text, args, expected", [
    (None, ["build", "pipeline.yaml"],
     "irdata: error: config file not found: pipeline.yaml"),
    ("fetch: {threads: many}\n" + OK_SOURCE, ["build", "pipeline.yaml"],
     "irdata: error: pipeline.yaml: 'fetch.threads': expected an integer, got 'many'"),
    (OK_SOURCE, ["build", "pipeline.yaml", "--out", "out", "--workers", "0"],
     "irdata build: argument --workers: expected a positive integer, got '0' "
     "(see 'irdata build --help')"),
], ids=["missing-config", "wrong-type", "zero-workers"])
def test_subprocess_prints_one_line_and_exits_2(project, text, args, expected):
    _pipeline(text)
    done = _run_cli(project, *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [expected]
    assert done.stdout == ""
