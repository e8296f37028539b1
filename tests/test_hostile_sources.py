"""Hostile sources: archives that try to escape or explode, redirects towards
private addresses, URL lists full of garbage, Unicode and very long URLs, and
shards that carry pickles. Nothing escapes, nothing explodes, nothing is lost."""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import random
import stat
import tarfile
import time
import zipfile
from urllib.parse import quote

import numpy as np
import pyarrow.parquet as pq
import pytest
from hostile_corpus import case

import irdata
from irdata import config as irconfig
from irdata.imaging.encode import encode_png
from irdata.net import guard
from irdata.net.http import Fetcher
from irdata.shards import ShardWriter
from irdata.sources.plan import make_plan, partition_size
from irdata.sources.url_lists import MAX_URL_LENGTH, list_url_items
from irdata.stages import fetch
from irdata.storage import Output

JPEG = case("plain_jpeg").data
MiB = 1024 * 1024


def build_config(tmp_path, sources, **fetch_settings) -> dict:
    raw = {"images_per_partition": 1000, "inspect": {"min_side": 64},
           "quality": {"enabled": False},
           "fetch": {"allow_private_networks": True, "threads": 4, "retries": 0,
                     "connect_timeout": 2.0, "read_timeout": 1.0, "total_timeout": 3.0,
                     **fetch_settings},
           "sources": sources}
    return irconfig.validate(raw, str(tmp_path / "p.yaml"), str(tmp_path))


def fetch_rows(config: dict, out_root: str) -> dict[str, dict]:
    """Plan and fetch every partition in this process; rows by locator."""
    plan = make_plan(config, Output(out_root))
    rows = []
    for index in range(plan.partitions):
        fetch.run_partition(config, out_root, index)
        rows += pq.read_table(os.path.join(out_root, fetch.outputs(index)["parquet"])).to_pylist()
    assert len(rows) == plan.items
    return {row["locator"]: row for row in rows}


def files_below(folder) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


# -- archives that try to escape ------------------------------------------------------

def _tar_member(tf, name: str, data: bytes = b"", kind=tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


TAR_UNSAFE = {  # member -> (type, link target)
    "../escape.jpg": (tarfile.REGTYPE, ""),
    "a/../../escape2.jpg": (tarfile.REGTYPE, ""),
    "/tmp/absolute.jpg": (tarfile.REGTYPE, ""),
    "symlink_out.jpg": (tarfile.SYMTYPE, "/etc/passwd"),
    "symlink_in.jpg": (tarfile.SYMTYPE, "real.jpg"),
    "hardlink_in.jpg": (tarfile.LNKTYPE, "real.jpg"),
    "hardlink_out.jpg": (tarfile.LNKTYPE, "../../../etc/passwd"),
    "device.jpg": (tarfile.CHRTYPE, ""),
    "fifo.jpg": (tarfile.FIFOTYPE, ""),
}
ZIP_UNSAFE = ["../escape.jpg", "/abs.jpg", "C:/windows.jpg", "..\\backslash.jpg"]


def test_archive_members_never_escape(tmp_path):
    arch = tmp_path / "arch"
    arch.mkdir()
    with tarfile.open(arch / "evil.tar", "w") as tf:
        _tar_member(tf, "real.jpg", JPEG)
        for name, (kind, link) in TAR_UNSAFE.items():
            _tar_member(tf, name, JPEG, kind, link)
    with zipfile.ZipFile(arch / "evil.zip", "w") as zf:
        zf.writestr("real.jpg", JPEG)
        for name in ZIP_UNSAFE:
            zf.writestr(zipfile.ZipInfo(name), JPEG)  # ZipInfo keeps the name as given
        link = zipfile.ZipInfo("zip_symlink.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    before = files_below(tmp_path)
    config = build_config(tmp_path, [{"name": "tar", "archive": "arch/evil.tar"},
                                     {"name": "zip", "archive": "arch/evil.zip"}])
    rows = fetch_rows(config, str(tmp_path / "out"))

    tar, zipped = str(arch / "evil.tar"), str(arch / "evil.zip")
    unsafe = [f"{tar}!{name}" for name in TAR_UNSAFE] + [
        f"{zipped}!{name}" for name in [*ZIP_UNSAFE, "zip_symlink.jpg"]]
    assert len(rows) == len(unsafe) + 2
    for locator in unsafe:
        assert (rows[locator]["status"], rows[locator]["reason"]) == ("failed", "unsafe_member"), \
            locator
    for locator in (f"{tar}!real.jpg", f"{zipped}!real.jpg"):
        assert rows[locator]["status"] == "ok"
        assert rows[locator]["sha256"] == rows[f"{tar}!real.jpg"]["sha256"]
    created = files_below(tmp_path) - before
    assert all(p.startswith(str(tmp_path / "out")) for p in created), created
    assert not (tmp_path / "escape.jpg").exists() and not os.path.exists("/tmp/absolute.jpg")


def _deflate_bomb(zf: zipfile.ZipFile, name: str, size: int) -> None:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w", force_zip64=True) as fh:
        fh.write(JPEG[:200])
        zeros = bytes(MiB)
        for _ in range(size // MiB):
            fh.write(zeros)


def _lying_zip(path, name: str, declared: int, real: bytes) -> None:
    """A zip whose member declares `declared` bytes (local and central headers) but
    inflates to all of `real`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, real)
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        data[at + size_at:at + size_at + 4] = declared.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_archive_bombs_are_capped(tmp_path):
    arch = tmp_path / "arch"
    arch.mkdir()
    with zipfile.ZipFile(arch / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fine.jpg", JPEG)
        _deflate_bomb(zf, "bomb.jpg", 256 * MiB)
    with tarfile.open(arch / "bomb.tar.gz", "w:gz", compresslevel=1) as tf:
        _tar_member(tf, "fine.jpg", JPEG)
        info = tarfile.TarInfo("bomb.jpg")
        info.size = 128 * MiB
        tf.addfile(info, io.BytesIO(bytes(info.size)))
        _tar_member(tf, "after.jpg", JPEG)
    _lying_zip(arch / "lying.zip", "liar.jpg", declared=len(JPEG), real=JPEG + bytes(64 * MiB))
    assert (arch / "bomb.zip").stat().st_size < 2 * MiB
    assert (arch / "bomb.tar.gz").stat().st_size < 2 * MiB

    config = build_config(tmp_path, [{"name": "z", "archive": "arch/bomb.zip"},
                                     {"name": "t", "archive": "arch/bomb.tar.gz"},
                                     {"name": "l", "archive": "arch/lying.zip"}],
                          max_bytes="1MiB")
    rows = fetch_rows(config, str(tmp_path / "out"))

    for archive in ("bomb.zip", "bomb.tar.gz"):
        bomb = rows[f"{arch / archive}!bomb.jpg"]
        assert (bomb["status"], bomb["reason"]) == ("dropped", "too_large")
        assert "> 1048576 bytes" in bomb["detail"]
        assert rows[f"{arch / archive}!fine.jpg"]["status"] == "ok"
    assert rows[f"{arch / 'bomb.tar.gz'}!after.jpg"]["status"] == "ok"
    liar = rows[f"{arch / 'lying.zip'}!liar.jpg"]
    # zipfile stops at the declared size; whatever it reads is checked and capped.
    assert liar["status"] in ("ok", "failed") and liar["reason"] in ("", "archive_error")


# -- redirects towards private addresses ------------------------------------------------

@pytest.fixture
def public_loopback(monkeypatch):
    """Treat 127.0.0.1 (the fault server) as a public host; everything else keeps the
    real rule, so 127.0.0.2, 169.254.169.254 and friends stay private."""
    real = guard.is_public_address
    monkeypatch.setattr(guard, "is_public_address",
                        lambda address: address == "127.0.0.1" or real(address))


def _redirect(fault_server, target: str) -> str:
    return fault_server.url(f"redirect-to/{quote(target, safe='')}/r.jpg")


@pytest.mark.parametrize("target", [
    "http://127.0.0.2:{port}/ok/r.jpg",
    "http://[::ffff:127.0.0.2]:{port}/ok/r.jpg",
    "http://2130706434:{port}/ok/r.jpg",  # 127.0.0.2 written as one number
    "http://0x7f000002:{port}/ok/r.jpg",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/admin",
    "http://0.0.0.0:{port}/ok/r.jpg",
], ids=["loopback", "mapped-v6", "decimal", "hex", "metadata", "metadata-v6", "rfc1918", "zero"])
def test_redirect_to_a_private_address_is_refused_before_connecting(
        fault_server, private_fault_server, public_loopback, fetch_config, target):
    url = _redirect(fault_server, target.format(port=private_fault_server.port))
    fetcher = Fetcher(fetch_config(allow_private_networks=False, retries=2))
    started = time.monotonic()
    try:
        got = fetcher.get(url)
    finally:
        fetcher.close()
    assert (got.status, got.reason) == ("failed", "private_address"), got.detail
    assert time.monotonic() - started < 1.0  # refused at once: no connect attempt, no retry
    assert fault_server.hits("/" + url.split("/", 3)[3]) == 1  # the allowed host was asked
    assert private_fault_server.accepted == 0  # not even a TCP connection reached it


def test_redirect_to_a_private_address_is_followed_when_allowed(
        fault_server, private_fault_server, public_loopback, fetch_config):
    fetcher = Fetcher(fetch_config(allow_private_networks=True))
    try:
        got = fetcher.get(_redirect(fault_server, private_fault_server.url("ok/r.jpg")))
    finally:
        fetcher.close()
    assert (got.status, got.data) == ("ok", fault_server.image("r.jpg"))
    assert private_fault_server.accepted == 1


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.2/x.jpg",
                                    "gopher://127.0.0.2:70/_x"])
def test_redirect_to_another_scheme_is_refused(fault_server, private_fault_server,
                                               public_loopback, fetch_config, target):
    fetcher = Fetcher(fetch_config(allow_private_networks=False))
    try:
        got = fetcher.get(_redirect(fault_server, target))
    finally:
        fetcher.close()
    assert got.status == "failed" and got.data == b""
    assert got.reason == "bad_url", got.detail
    assert private_fault_server.accepted == 0


# -- URL lists full of garbage ----------------------------------------------------------------

GARBAGE_ROWS = 100_000
JSONL_ROWS = 20_000  # JSONL: the lines that are not JSON objects


FIXED_GARBAGE = [",,,,,,", "javascript:alert(1)", "\x00\x01\x02 nul bytes",
                 "http://exa mple.com/x.jpg", '"",""', "http://[::1/broken",
                 "ftp://example.com/a.jpg", "file:///etc/shadow"]


def _garbage_line(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return '"unclosed quote, ' + "x" * rng.randrange(50)
    if kind == 1:
        chars = (chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 80)))
        return "".join(c for c in chars if c not in "\r\n")  # one row is one line
    if kind == 2:
        return "http://" + "a" * rng.randrange(60, 200) + ".invalid/" + "b" * 9000
    if kind == 3:
        return '"' * rng.randrange(1, 7)
    return rng.choice(FIXED_GARBAGE)


def test_a_list_of_garbage_loses_no_row(tmp_path, fault_server):
    """100k garbage CSV rows (and 20k JSONL lines) with 50 good URLs spread among
    them: every row an item, in order, every good URL fetched; an unclosed quote
    or an unparsable line damages only its own row."""
    rng = random.Random(8)
    good_at = set(rng.sample(range(GARBAGE_ROWS), 50))
    lines, good = ["url"], {}
    for number in range(GARBAGE_ROWS):
        if number in good_at:
            url = fault_server.url(f"ok/good{number}.jpg")
            good[number] = url
            lines.append(url)
        else:
            lines.append(_garbage_line(rng))
    text = "\n".join(lines) + "\n"
    (tmp_path / "garbage.csv").write_text(text, encoding="utf-8")
    jsonl = [json.dumps({"url": line}) for line in lines[1:JSONL_ROWS + 1]]
    for at in range(0, JSONL_ROWS, 97):  # lines that are not JSON objects at all
        if at not in good_at:
            jsonl[at] = rng.choice(["[" * 50_000, "{\"url\": ", "null", "\x00", "{}" * 3])
    (tmp_path / "garbage.jsonl").write_text("\n".join(jsonl) + "\n", encoding="utf-8")

    locators = set()
    for name, rows in (("garbage.csv", GARBAGE_ROWS), ("garbage.jsonl", JSONL_ROWS)):
        source = irconfig.validate({"sources": [{"name": "g", "urls": name}]}, "x.yaml",
                                   str(tmp_path))["sources"][0]
        started = time.monotonic()
        items = list_url_items(source)
        assert time.monotonic() - started < 20
        assert len(items) == rows, name
        wanted = {n: url for n, url in good.items() if n < rows}
        for number, url in wanted.items():
            assert (items[number].locator, items[number].error) == (url, ""), (name, number)
        bad = [i for i in items if i.error]
        assert len(bad) == rows - len(wanted)
        assert {i.error for i in bad} <= {"bad_url", "bad_row"}
        if name == "garbage.csv":
            locators = {i.locator for i in items}  # repeated garbage URLs are one item

    config = build_config(tmp_path, [{"name": "g", "urls": "garbage.csv"}],
                          threads=8, retries=0)
    config["images_per_partition"] = 15_000
    out = str(tmp_path / "out")
    plan = make_plan(config, Output(out))
    size = partition_size(len(locators), 15_000)  # 121: up to 256 partitions
    assert (plan.items, plan.partitions) == (len(locators), -(-len(locators) // size))
    assert plan.partitions >= 2
    stats = [fetch.run_partition(config, out, i) for i in range(plan.partitions)]
    assert sum(s["items"] for s in stats) == plan.items
    assert sum(s["samples"] for s in stats) == len(good)


# -- Unicode and very long URLs ----------------------------------------------------------------

def test_unicode_and_very_long_urls(tmp_path, fault_server):
    names = ["ünïcödé 画像.jpg", "\u202ertl-override.jpg", "emoji-📷.jpg", "q?a=1&b=ä.jpg",
             "%zz-bad-escape.jpg", "x" * (MAX_URL_LENGTH - 200) + ".jpg"]
    served = [fault_server.url("ok/" + quote(n, safe="")) for n in names[:-1]]
    served.append(fault_server.url("ok/" + names[-1]))
    refused = {
        "http://💩.la/x.jpg": "bad_url",  # not a valid IDNA label: refused before DNS
        "http://a\u202eb.com/x.jpg": "bad_url",
        "http://a..b/x.jpg": "bad_url",
        "http://" + "a" * 64 + ".com/x.jpg": "bad_url",  # label too long
        fault_server.url("ok/" + "y" * MAX_URL_LENGTH + ".jpg"): "bad_url",  # over the cap
        fault_server.url("ok/a.jpg") + "\r\nX-Injected: 1": "bad_url",
    }
    (tmp_path / "urls.jsonl").write_text(
        "".join(json.dumps({"url": url}) + "\n" for url in [*served, *refused]),
        encoding="utf-8")
    config = build_config(tmp_path, [{"name": "u", "urls": "urls.jsonl"}])
    rows = fetch_rows(config, str(tmp_path / "out"))

    assert len(rows) == len(served) + len(refused)
    for url in served:
        assert (rows[url]["status"], rows[url]["reason"]) == ("ok", ""), (url[:80], rows[url])
    for url, reason in refused.items():
        row = rows[url]
        assert (row["status"], row["reason"]) == ("failed", reason), (url[:80], row["detail"])
        assert row["shard"] is None


# -- shards never unpickle ----------------------------------------------------------------------

class _Exploit:
    """Unpickling this writes a file: proof that something unpickled it."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_training_reader_never_unpickles(tmp_path):
    pytest.importorskip("torch")
    from irdata.train import settings
    from irdata.train.data.feed import Feed

    marker = tmp_path / "UNPICKLED"
    payload = pickle.dumps(_Exploit(str(marker)))
    rng = np.random.default_rng(0)
    shard = tmp_path / "evil.tar"
    with open(shard, "wb") as fh:
        writer = ShardWriter(fh)
        for n in range(4):
            png = encode_png(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), 1, "rle")
            writer.add(f"k{n}", {"png": png, "pyd": payload, "pickle": payload,
                                 "pth": payload, "json": {"key": n}})
        writer.close()
    raw = {"out": str(tmp_path / "run"), "schedule": [{"steps": 2, "crop": 32, "batch": 2}],
           "data": {"shards": str(shard), "workers": 0, "shuffle": 1, "epoch_steps": 2,
                    "resampled": False}}
    feed = Feed(settings.finalize(settings.validate(raw, "pretrain")))

    batches = [batch for _, _, batch in feed.batches(0)]

    assert len(batches) == 2 and tuple(batches[0]["lq"].shape) == (2, 3, 32, 32)
    assert not marker.exists()


UNPICKLERS = {("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"),
              ("dill", "load"), ("dill", "loads"), ("cloudpickle", "load"),
              ("cloudpickle", "loads"), ("joblib", "load"), ("marshal", "load"),
              ("marshal", "loads"), ("shelve", "open"), ("yaml", "load"),
              ("yaml", "unsafe_load")}


def _unsafe_loads(tree) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)):
            continue
        owner, name = node.func.value.id, node.func.attr
        keywords = {k.arg: k.value for k in node.keywords}
        if (owner, name) == ("yaml", "load"):
            loader = keywords.get("Loader")
            if loader is None or not ast.unparse(loader).endswith("SafeLoader"):
                found.append("yaml.load without a SafeLoader")
        elif (owner, name) in UNPICKLERS:
            found.append(f"{owner}.{name}")
        elif (owner, name) == ("torch", "load"):
            flag = keywords.get("weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                found.append("torch.load without weights_only=True")
        elif owner in ("np", "numpy") and name == "load":
            flag = keywords.get("allow_pickle")
            if isinstance(flag, ast.Constant) and flag.value is True:
                found.append("numpy.load(allow_pickle=True)")
    return found


def test_no_product_code_can_unpickle():
    """Shards, checkpoints, configs and lists are untrusted: no code path of the
    package may unpickle them (today: only torch.load(weights_only=True) exists)."""
    package = os.path.dirname(irdata.__file__)
    problems, torch_loads = {}, 0
    for folder, _, names in os.walk(package):
        for name in (n for n in names if n.endswith(".py")):
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as fh:
                source = fh.read()
            torch_loads += source.count("torch.load(")
            found = _unsafe_loads(ast.parse(source))
            if found:
                problems[os.path.relpath(path, package)] = found
    assert problems == {}
    assert _unsafe_loads(ast.parse("import torch\ntorch.load(p)\npickle.loads(b)")) == [
        "torch.load without weights_only=True", "pickle.loads"]  # the check itself works
    assert _unsafe_loads(ast.parse("yaml.load(f)\nyaml.load(f, Loader=yaml.Loader)\n"
                                   "yaml.load(f, Loader=SafeLoader)")) == [
        "yaml.load without a SafeLoader", "yaml.load without a SafeLoader"]
    assert torch_loads >= 1  # the checkpoint loader is among the files checked
