"""Sources: URL lists (CSV, TSV, Parquet, JSONL), folders and archives, then the
plan and the fetch stage over local and remote archives end to end."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from irdata import config as irconfig
from irdata.demo.serve import LoopbackServer
from irdata.demo.synth import encode, procedural_image
from irdata.errors import ConfigError, UsageError
from irdata.inspection import inspect_bytes
from irdata.keys import image_id
from irdata.sources.archives import (
    MemberTooLarge,
    list_archive_items,
    read_members,
    unsafe_member,
)
from irdata.sources.folders import list_folder_items
from irdata.sources.plan import make_plan
from irdata.sources.url_lists import MAX_URL_LENGTH, list_url_items
from irdata.stages import complete, fetch
from irdata.storage import Output

LONG_URL = "https://example.com/" + "a" * MAX_URL_LENGTH


def source_of(tmp_path, **fields) -> dict:
    """A validated source dict, as the config loader makes it."""
    raw = {"sources": [{"name": "web", "license": "cc-by", **fields}]}
    return irconfig.validate(raw, "x.yaml", str(tmp_path))["sources"][0]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image(seed: int, fmt: str = "jpg", width: int = 160, height: int = 120) -> bytes:
    return encode(procedural_image(seed, width, height), fmt)


# -- URL lists ----------------------------------------------------------------

# Every list below holds these rows, in this order.
ROWS = [
    {"url": "https://example.com/a.jpg", "license": "cc0", "source": "flickr",
     "caption": "a cat", "year": "2020"},
    {"url": "http://example.com/b.png", "license": "", "source": "",
     "caption": "", "year": "2021"},
    {"url": "", "license": "cc0", "source": "flickr", "caption": "no url", "year": "1"},
    {"url": "not a url", "license": "", "source": "", "caption": "", "year": ""},
    {"url": "ftp://example.com/c.jpg", "license": "", "source": "", "caption": "", "year": ""},
    {"url": LONG_URL, "license": "", "source": "", "caption": "", "year": ""},
    {"url": "https://exa mple.com/d.jpg", "license": "", "source": "", "caption": "", "year": ""},
]
COLUMNS = list(ROWS[0])
BAD_DETAILS = {
    2: "empty url",
    3: "unsupported scheme ''",
    4: "unsupported scheme 'ftp'",
    5: f"url longer than {MAX_URL_LENGTH} characters",
    6: "url contains whitespace or control characters",
}


def write_delimited(path, delimiter: str, rows=ROWS, columns=COLUMNS, bom: bool = False):
    lines = [delimiter.join(columns)] + [delimiter.join(str(r[c]) for c in columns)
                                         for r in rows]
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_list(tmp_path, fmt: str):
    if fmt == "csv":
        return write_delimited(tmp_path / "list.csv", ",")
    if fmt == "tsv":
        return write_delimited(tmp_path / "list.tsv", "\t")
    if fmt == "parquet":
        path = tmp_path / "list.parquet"
        pq.write_table(pa.Table.from_pylist(ROWS), path)
        return path
    path = tmp_path / "list.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def check_items(items, path: str, first_line: int) -> None:
    assert [i.kind for i in items] == ["url"] * len(ROWS)
    assert [i.source_name for i in items] == ["web"] * len(ROWS)
    good, plain = items[0], items[1]
    assert (good.locator, good.license, good.source) == ("https://example.com/a.jpg",
                                                         "cc0", "flickr")
    assert json.loads(good.extra) == {"caption": "a cat", "year": "2020"}
    assert good.error == "" and good.detail == ""
    # Empty license and source fall back to the source's licence and name.
    assert (plain.locator, plain.license, plain.source) == ("http://example.com/b.png",
                                                            "cc-by", "web")
    assert plain.error == ""
    for index, detail in BAD_DETAILS.items():
        item = items[index]
        assert item.error == "bad_url", index
        assert item.detail == f"row {first_line + index}: {detail}"
    # A row without a URL still gets a unique locator, and keeps its columns.
    assert items[2].locator == f"{path}#L{first_line + 2}"
    assert (items[2].license, items[2].source) == ("cc0", "flickr")
    assert items[5].locator == LONG_URL


@pytest.mark.parametrize("fmt, first_line", [("csv", 2), ("tsv", 2), ("parquet", 1),
                                             ("jsonl", 1)])
def test_url_list_formats(tmp_path, fmt, first_line):
    path = write_list(tmp_path, fmt)
    source = source_of(tmp_path, urls=str(path))
    check_items(list_url_items(source), str(path), first_line)


def test_parquet_keeps_typed_extra_columns(tmp_path):
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"url": ["https://example.com/a.jpg", None],
                             "width": [4000, 10], "tags": [["sky", "sea"], []]}), path)
    items = list_url_items(source_of(tmp_path, urls=str(path)))
    assert json.loads(items[0].extra) == {"tags": ["sky", "sea"], "width": 4000}
    assert items[0].error == ""
    assert (items[1].error, items[1].detail) == ("bad_url", "row 2: empty url")


def test_jsonl_bad_lines(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('{"url": "https://example.com/a.jpg", "id": 7}\n'
                    "\n"
                    "{not json\n"
                    '["https://example.com/b.jpg"]\n'
                    '{"url": "https://example.com/c.jpg"}\n', encoding="utf-8")
    items = list_url_items(source_of(tmp_path, urls=str(path)))
    assert [i.error for i in items] == ["", "bad_row", "bad_row", ""]
    assert items[1].detail == "line 3 is not a JSON object"
    assert items[1].locator == f"{path}#L3"
    assert items[2].detail == "line 4 is not a JSON object"
    assert json.loads(items[0].extra) == {"id": 7}
    assert items[3].locator == "https://example.com/c.jpg"


def test_jsonl_keys_are_only_data(tmp_path):
    """No key is special: a row may hold any field name with any value."""
    path = tmp_path / "odd.jsonl"
    path.write_text('{"url": "https://e.com/a.jpg", "__columns__": 5}\n', encoding="utf-8")
    items = list_url_items(source_of(tmp_path, urls=str(path)))
    assert [(i.locator, i.error) for i in items] == [("https://e.com/a.jpg", "")]
    assert json.loads(items[0].extra) == {"__columns__": 5}


def test_custom_url_column(tmp_path):
    path = write_delimited(tmp_path / "links.csv", ",", rows=[{"link": "https://e.com/x.jpg",
                                                                "url": "ignored"}],
                           columns=["link", "url"])
    items = list_url_items(source_of(tmp_path, urls=str(path), url_column="link"))
    assert items[0].locator == "https://e.com/x.jpg"
    assert json.loads(items[0].extra) == {"url": "ignored"}


def test_csv_with_byte_order_mark_and_spaced_header(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("\ufeffurl, license\nhttps://e.com/x.jpg, cc0\n", encoding="utf-8")
    items = list_url_items(source_of(tmp_path, urls=str(path)))
    assert [(i.locator, i.error) for i in items] == [("https://e.com/x.jpg", "")]
    assert items[0].license == " cc0"  # values are kept as written


def test_csv_short_and_long_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("url,caption\nhttps://e.com/1.jpg\n\nhttps://e.com/2.jpg,two,extra\n")
    items = list_url_items(source_of(tmp_path, urls=str(path)))
    assert [i.locator for i in items] == ["https://e.com/1.jpg", "https://e.com/2.jpg"]
    assert json.loads(items[0].extra) == {"caption": None}
    assert json.loads(items[1].extra) == {"caption": "two"}
    assert items[1].error == ""


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "jsonl"])
def test_list_without_url_column(tmp_path, fmt):
    rows = [{"link": "https://example.com/a.jpg", "license": "cc0"}]
    if fmt in ("csv", "tsv"):
        path = write_delimited(tmp_path / f"list.{fmt}", "," if fmt == "csv" else "\t",
                               rows=rows, columns=["link", "license"])
    elif fmt == "parquet":
        path = tmp_path / "list.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path = tmp_path / "list.jsonl"
        path.write_text(json.dumps(rows[0]) + "\n")
    with pytest.raises(ConfigError) as err:
        list_url_items(source_of(tmp_path, urls=str(path)))
    # Header order for tables; JSONL has no header: the keys seen, sorted.
    columns = "license, link" if fmt == "jsonl" else "link, license"
    assert str(err.value) == f"{path}: no 'url' column (columns: {columns})"


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl"])
def test_empty_list_is_an_error(tmp_path, name):
    path = tmp_path / name
    path.write_text("")
    with pytest.raises(ConfigError) as err:
        list_url_items(source_of(tmp_path, urls=str(path)))
    assert str(err.value) == f"{path}: the URL list is empty (it needs a 'url' column)"


def test_header_only_list_has_no_items(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("url,license\n")
    assert list_url_items(source_of(tmp_path, urls=str(path))) == []


# -- folders ------------------------------------------------------------------

def test_folder_items(tmp_path):
    root = tmp_path / "pictures"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "deep.jpg").write_bytes(image(1))
    (root / "top.PNG").write_bytes(image(2, "png"))
    (root / "fake.jpeg").write_bytes(b"not really an image")  # magic bytes decide later
    (root / "notes.txt").write_text("hello")
    (root / "a" / "thumbs.db").write_bytes(b"\0" * 10)
    (root / "link.jpg").symlink_to(root / "top.PNG")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "escaped.jpg").write_bytes(image(3))
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    os.mkfifo(root / "pipe.jpg")  # reading it would block forever

    items = list_folder_items(source_of(tmp_path, dir=str(root)))
    assert sorted(i.locator for i in items) == [
        str(root / "a" / "b" / "deep.jpg"), str(root / "fake.jpeg"), str(root / "top.PNG")]
    assert {(i.kind, i.source_name, i.source, i.license) for i in items} == {
        ("file", "web", "web", "cc-by")}
    assert all(i.error == "" for i in items)


# -- archives -----------------------------------------------------------------

MEMBERS = {"photos/a.jpg": image(10), "photos/sub/b.png": image(11, "png"),
           "c.jpeg": image(12)}


def make_zip(path, members=MEMBERS, extra: dict | None = None):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("photos/", b"")
        for name, data in {**members, **(extra or {})}.items():
            zf.writestr(name, data)
    return path


def _tar_add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))


def make_tar(path, members=MEMBERS, extra: dict | None = None, mode: str = "w"):
    with tarfile.open(path, mode) as tf:
        folder = tarfile.TarInfo("photos")
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)
        for name, data in {**members, **(extra or {})}.items():
            _tar_add(tf, name, data)
    return path


UNSAFE = {"../evil.jpg": image(13), "/abs.jpg": image(14), "notes.txt": b"text",
          "photos/meta.json": b"{}"}


@pytest.mark.parametrize("name, mode", [("a.zip", ""), ("a.tar", "w"), ("a.tar.gz", "w:gz")])
def test_list_archive_items(tmp_path, name, mode):
    path = tmp_path / name
    make_zip(path, extra=UNSAFE) if name.endswith(".zip") else make_tar(path, extra=UNSAFE,
                                                                       mode=mode)
    source = source_of(tmp_path, archive=str(path))
    locator = "https://host/a/" + name  # ids name the archive by its locator
    items = list_archive_items(source, locator, str(path))
    by_member = {i.member: i for i in items}
    assert list(by_member) == [*MEMBERS, "../evil.jpg", "/abs.jpg"]  # archive order
    for member in MEMBERS:
        item = by_member[member]
        assert (item.locator, item.kind, item.container) == (f"{locator}!{member}", "member",
                                                             str(path))
        assert (item.error, item.source_name, item.license) == ("", "web", "cc-by")
    assert (by_member["../evil.jpg"].error, by_member["../evil.jpg"].detail) == (
        "unsafe_member", "member path with '..'")
    assert (by_member["/abs.jpg"].error, by_member["/abs.jpg"].detail) == (
        "unsafe_member", "absolute member path")


def test_tar_links_are_unsafe(tmp_path):
    path = tmp_path / "links.tar"
    with tarfile.open(path, "w") as tf:
        _tar_add(tf, "real.jpg", image(15))
        link = tarfile.TarInfo("link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
        hard = tarfile.TarInfo("hard.jpg")
        hard.type, hard.linkname = tarfile.LNKTYPE, "real.jpg"
        tf.addfile(hard)
    items = list_archive_items(source_of(tmp_path, archive=str(path)), str(path), str(path))
    assert [(i.member, i.error) for i in items] == [
        ("real.jpg", ""), ("link.jpg", "unsafe_member"), ("hard.jpg", "unsafe_member")]
    assert items[1].detail == "not a regular file (link or device)"


def test_zip_symlink_is_unsafe(tmp_path):
    path = tmp_path / "links.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("real.jpg", image(16))
        link = zipfile.ZipInfo("link.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    items = list_archive_items(source_of(tmp_path, archive=str(path)), str(path), str(path))
    assert [(i.member, i.error) for i in items] == [("real.jpg", ""),
                                                    ("link.jpg", "unsafe_member")]


@pytest.mark.parametrize("name", ["x.jpg", "a/b/c.png", "a/..b.jpg", "./x.jpg"])
def test_safe_member_names(name):
    assert unsafe_member(name) == ""


@pytest.mark.parametrize("name", ["../x.jpg", "a/../../x.jpg", "/x.jpg", "C:/x.jpg",
                                  "..\\x.jpg", "\\x.jpg"])
def test_unsafe_member_names(name):
    assert unsafe_member(name) != ""


@pytest.mark.parametrize("name, mode", [("a.zip", ""), ("a.tar", "w"), ("a.tar.gz", "w:gz")])
def test_read_members(tmp_path, name, mode):
    path = tmp_path / name
    make_zip(path) if name.endswith(".zip") else make_tar(path, mode=mode)
    wanted = ["c.jpeg", "photos/a.jpg", "photos/sub/b.png", "missing.jpg"]
    got = list(read_members(str(path), str(path), set(wanted), 10 * 1024 * 1024))
    # Archive order, then the members that are not there.
    assert [n for n, _ in got] == ["photos/a.jpg", "photos/sub/b.png", "c.jpeg",
                                   "missing.jpg"]
    results = dict(got)
    for member, data in MEMBERS.items():
        assert results[member] == data
    assert isinstance(results["missing.jpg"], KeyError)


@pytest.mark.parametrize("name, mode", [("a.zip", ""), ("a.tar", "w"), ("a.tar.gz", "w:gz")])
def test_member_over_the_cap(tmp_path, name, mode):
    path = tmp_path / name
    make_zip(path) if name.endswith(".zip") else make_tar(path, mode=mode)
    big = "photos/sub/b.png"
    cap = len(MEMBERS[big]) - 1
    assert all(len(d) <= cap for n, d in MEMBERS.items() if n != big)
    results = dict(read_members(str(path), str(path), set(MEMBERS), cap))
    assert isinstance(results[big], MemberTooLarge)
    assert results["photos/a.jpg"] == MEMBERS["photos/a.jpg"]
    assert results["c.jpeg"] == MEMBERS["c.jpeg"]


@pytest.mark.parametrize("name", ["bad.zip", "bad.tar", "bad.tar.gz"])
def test_corrupt_archive_fails_each_member(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not an archive at all" * 40)
    results = list(read_members(str(path), str(path), set(MEMBERS), 1 << 20))
    assert sorted(n for n, _ in results) == sorted(MEMBERS)
    assert all(isinstance(r, Exception) for _, r in results)


def test_truncated_tar_gz_keeps_the_members_before_the_cut(tmp_path):
    members = {f"m{i}.jpg": image(30 + i) for i in range(4)}
    whole = make_tar(tmp_path / "whole.tar.gz", members=members, mode="w:gz").read_bytes()
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    results = list(read_members(str(path), str(path), set(members), 1 << 20))
    assert sorted(n for n, _ in results) == sorted(members)
    assert dict(results)["m0.jpg"] == members["m0.jpg"]
    assert isinstance(dict(results)["m3.jpg"], Exception)


def test_corrupt_zip_member_fails_alone(tmp_path):
    path = make_zip(tmp_path / "a.zip")
    data = bytearray(path.read_bytes())
    end = data.index(MEMBERS["c.jpeg"][-64:])  # stored uncompressed: flip a byte of it
    data[end - 200] ^= 0xFF
    path.write_bytes(bytes(data))
    results = dict(read_members(str(path), str(path), set(MEMBERS), 1 << 20))
    assert isinstance(results["c.jpeg"], zipfile.BadZipFile)
    assert results["photos/a.jpg"] == MEMBERS["photos/a.jpg"]


# -- plan and fetch over every kind of archive source -------------------------

def _members(prefix: str, seeds: range, formats=("jpg", "png")) -> dict[str, bytes]:
    out = {}
    for n, seed in enumerate(seeds):
        fmt = formats[n % len(formats)]
        out[f"{prefix}/img_{n}.{fmt}"] = image(seed, fmt, 96 + 8 * n, 80 + 4 * n)
    return out


@pytest.fixture
def archive_build(tmp_path):
    """Local zip, local tar.gz, a folder, a corrupt zip, remote zip and tar.gz
    (and one remote archive that is not there), with their expected rows."""
    local, served, pictures = tmp_path / "local", tmp_path / "served", tmp_path / "pictures"
    for folder in (local, served, pictures):
        folder.mkdir()
    local_zip = _members("lz", range(100, 104))
    local_tgz = _members("lt", range(110, 113))
    remote_zip = _members("rz", range(120, 124))
    remote_tgz = _members("rt", range(130, 133))
    folder_files = {"one.jpg": image(140), "two.png": image(141, "png")}
    make_zip(local / "set.zip", members=local_zip, extra={"../evil.jpg": image(150),
                                                          "readme.txt": b"hi"})
    make_tar(local / "set.tar.gz", members=local_tgz, mode="w:gz",
             extra={"notes.md": b"# notes"})
    make_zip(served / "remote.zip", members=remote_zip)
    make_tar(served / "remote.tar.gz", members=remote_tgz, mode="w:gz")
    (local / "broken.zip").write_bytes(b"PK\x03\x04 but nothing else")
    for name, data in folder_files.items():
        (pictures / name).write_bytes(data)

    with LoopbackServer(str(served)) as server:
        raw = {
            "images_per_partition": 4,
            "fetch": {"allow_private_networks": True, "threads": 3, "retries": 0},
            "inspect": {"min_side": 64},
            "sources": [
                {"name": "lzip", "archive": "local/set.zip", "license": "cc0"},
                {"name": "ltgz", "archive": "local/set.tar.gz"},
                {"name": "pics", "dir": "pictures"},
                {"name": "rzip", "archive": f"{server.url}/remote.zip"},
                {"name": "rtgz", "archive": f"{server.url}/remote.tar.gz"},
                {"name": "gone", "archive": f"{server.url}/missing.zip"},
                {"name": "broken", "archive": "local/broken.zip"},
            ],
        }
        config = irconfig.validate(raw, str(tmp_path / "p.yaml"), str(tmp_path))
        expected = {}
        for prefix, members in ((str(local / "set.zip"), local_zip),
                                (str(local / "set.tar.gz"), local_tgz),
                                (f"{server.url}/remote.zip", remote_zip),
                                (f"{server.url}/remote.tar.gz", remote_tgz)):
            for member, data in members.items():
                expected[f"{prefix}!{member}"] = data
        for name, data in folder_files.items():
            expected[str(pictures / name)] = data
        failures = {
            f"{local / 'set.zip'}!../evil.jpg": "unsafe_member",
            f"{server.url}/missing.zip": "archive_unavailable",
            str(local / "broken.zip"): "bad_archive",
        }
        yield config, str(tmp_path / "out"), expected, failures


def _run_fetch(config: dict, out_root: str):
    plan = make_plan(config, Output(out_root))
    stats = [complete("fetch", config, out_root, i) for i in range(plan.partitions)]
    rows = []
    for i in range(plan.partitions):
        rows += pq.read_table(os.path.join(out_root, fetch.outputs(i)["parquet"])).to_pylist()
    return plan, stats, rows


def _tar_contents(out_root: str, shard: str) -> dict[str, bytes]:
    with tarfile.open(os.path.join(out_root, shard)) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers()}


def test_archives_through_plan_and_fetch(archive_build):
    config, out_root, expected, failures = archive_build
    plan, stats, rows = _run_fetch(config, out_root)

    assert plan.items == len(expected) + len(failures) == 19
    assert plan.partitions == 5
    assert plan.per_source == {"lzip": 5, "ltgz": 3, "pics": 2, "rzip": 4, "rtgz": 3,
                               "gone": 1, "broken": 1}
    by_locator = {row["locator"]: row for row in rows}
    assert len(by_locator) == len(rows) == plan.items
    assert sum(s["items"] for s in stats) == plan.items
    assert sum(s["samples"] for s in stats) == len(expected)

    shards = {}
    for locator, data in expected.items():
        row = by_locator[locator]
        probe = inspect_bytes(data, 10**8, 1)
        assert (row["status"], row["reason"]) == ("ok", ""), locator
        assert (row["width"], row["height"]) == (probe.width, probe.height)
        assert row["sha256"] == sha(data) and row["bytes"] == len(data)
        assert row["image_id"] == image_id(locator)
        assert row["format"] == probe.format and row["phash"] == probe.phash
        if row["shard"] not in shards:
            shards[row["shard"]] = _tar_contents(out_root, row["shard"])
        ext = "jpg" if probe.format == "jpeg" else "png"
        assert shards[row["shard"]][f"{row['image_id']}.{ext}"] == data
        sample = json.loads(shards[row["shard"]][f"{row['image_id']}.json"])
        assert (sample["locator"], sample["sha256"]) == (locator, sha(data))
    assert set(shards) == {fetch.outputs(i)["tar"] for i in range(plan.partitions)}
    assert "raw/00000.tar" in shards
    assert sum(len(s) for s in shards.values()) == 2 * len(expected)  # image + json each

    for locator, reason in failures.items():
        row = by_locator[locator]
        assert (row["status"], row["reason"]) == ("failed", reason), locator
        assert row["shard"] is None and row["sha256"] is None

    assert by_locator[f"{config['sources'][0]['archive']}!lz/img_0.jpg"]["license"] == "cc0"
    remote = config["sources"][3]["archive"]
    assert by_locator[f"{remote}!rz/img_1.png"]["source_name"] == "rzip"
    for i in range(plan.partitions):
        assert os.path.exists(os.path.join(out_root, fetch.outputs(i)["done"]))
    cached = os.listdir(os.path.join(out_root, "cache", "archives"))
    assert sorted(cached) == sorted([f"{image_id(remote)}.zip",
                                     f"{image_id(config['sources'][4]['archive'])}.tar.gz"])


def test_plan_is_stable_and_guards_the_output(archive_build):
    config, out_root, _, _ = archive_build
    out = Output(out_root)
    first = make_plan(config, out)
    stored = pq.read_table(os.path.join(out_root, "plan", "items.parquet")).to_pylist()
    assert make_plan(config, out) == first
    assert pq.read_table(os.path.join(out_root, "plan", "items.parquet")).to_pylist() == stored
    # Plan order: each archive's members stay together, in archive order.
    members = [r["member"] for r in stored if r["locator"].startswith(
        config["sources"][0]["archive"] + "!")]
    assert members == [f"lz/img_{n}.{'jpg' if n % 2 == 0 else 'png'}" for n in range(4)] + [
        "../evil.jpg"]

    fewer = {**config, "sources": config["sources"][:-1]}
    with pytest.raises(UsageError, match="holds a build planned from other sources"):
        make_plan(fewer, out)
    resized = {**config, "images_per_partition": 3}
    with pytest.raises(UsageError):
        make_plan(resized, out)
