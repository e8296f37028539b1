"""Atomic writes and temp clean-up through fsspec, locally and on another filesystem."""

import pytest

from irdata.storage import TMP_MARK, Output, deferred_uploads


@pytest.fixture(params=["local", "memory", "s3"])
def out(request, tmp_path):
    if request.param == "local":
        yield Output(str(tmp_path / "out"))
        return
    if request.param == "s3":
        yield Output(request.getfixturevalue("s3_bucket") + "/run")
        return
    root = f"memory://irdata-test-{tmp_path.name}"
    yield Output(root)
    Output(root).fs.rm(Output(root).base, recursive=True)


def test_atomic_write_appears_whole(out):
    out.write_bytes("raw/00000.tar", b"payload")
    out.write_json("raw/00000.done", {"partition": 0})
    assert out.exists("raw/00000.tar")
    assert out.read_json("raw/00000.done") == {"partition": 0}
    names = [p.rsplit("/", 1)[1] for p in out.fs.find(out.path("raw"))]
    assert sorted(names) == ["00000.done", "00000.tar"]


def test_failed_write_leaves_nothing(out):
    with pytest.raises(RuntimeError), out.atomic("raw/00001.tar") as fh:
        fh.write(b"half")
        raise RuntimeError("disk on fire")
    assert not out.exists("raw/00001.tar")
    assert not [p for p in out.fs.find(out.base) if TMP_MARK in p]


def test_remove_temps_deletes_only_leftovers(out):
    out.write_bytes("raw/00000.tar", b"kept")
    with out.fs.open(out.path(f"raw/00001.tar{TMP_MARK}abc123"), "wb") as fh:
        fh.write(b"left by a killed build")
    assert out.remove_temps("") == 1
    assert out.exists("raw/00000.tar")
    assert [p.rsplit("/", 1)[1] for p in out.fs.find(out.base)] == ["00000.tar"]


def test_relative_local_root_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Output("out").root == str(tmp_path / "out")
    assert Output("memory://x").root == "memory://x"


def test_s3_large_write_is_one_upload_that_a_failure_or_a_kill_leaves_invisible(s3_bucket):
    """Past one block, an S3 write is a multipart upload: visible only when complete,
    aborted on failure; a killed writer's upload is aborted by remove_temps."""
    out = Output(s3_bucket + "/run", {"default_block_size": 5 * 2**20})  # S3's least part
    big = b"x" * (6 * 2**20)
    with pytest.raises(RuntimeError), out.atomic("raw/00000.tar") as fh:
        fh.write(big)  # a part's worth: it goes up in the background
        fh.write(big)  # handing over the next part waits for the first
        bucket = s3_bucket.split("://")[1]
        assert len(out.fs.list_multipart_uploads(bucket)) == 1
        raise RuntimeError("worker lost")
    assert not out.exists("raw/00000.tar")
    assert out.fs.list_multipart_uploads(bucket) == []
    killed = out.fs.open(out.path("raw/00001.tar"), "wb")
    killed.write(big)
    killed.flush()  # then the process dies: the upload stays open, no object exists
    assert not out.exists("raw/00001.tar") and len(out.fs.list_multipart_uploads(bucket)) == 1
    assert out.remove_temps("") == 1
    assert out.fs.list_multipart_uploads(bucket) == []
    killed.closed = True  # what the dead process never did
    out.write_bytes("raw/00002.tar", big)
    assert out.fs.cat(out.path("raw/00002.tar")) == big


def test_iter_bytes_reads_many_files_in_order_and_names_a_missing_one(out):
    rels = [f"raw/{i:05d}.parquet" for i in range(40)]  # more than one batch on a store
    for i, rel in enumerate(rels):
        out.write_bytes(rel, f"file {i}".encode())
    assert list(out.iter_bytes(rels)) == [f"file {i}".encode() for i in range(40)]
    assert out.read_optional("raw/absent.parquet") is None
    assert out.read_optional(rels[3]) == b"file 3"
    with pytest.raises(FileNotFoundError):
        list(out.iter_bytes([rels[0], "raw/absent.parquet"]))


def test_move_and_remove(out):
    out.write_bytes("cells/00000.tar", b"cells")
    out.makedirs("patches")
    out.move("cells/00000.tar", "patches/00000.tar", 5)
    assert out.read_bytes("patches/00000.tar") == b"cells"
    assert not out.exists("cells/00000.tar")
    out.write_bytes("cells/00000.parquet", b"rows")
    out.remove(["cells/00000.tar", "cells/00000.parquet"])  # the tar is gone already
    assert not out.exists("cells/00000.parquet")
    assert out.read_bytes("patches/00000.tar") == b"cells"


def test_deferred_uploads_complete_at_the_block_end(out):
    with deferred_uploads():
        for i in range(3):
            out.write_bytes(f"raw/{i:05d}.tar", bytes([i]) * 1000)
    assert [out.read_bytes(f"raw/{i:05d}.tar") for i in range(3)] == \
        [bytes([i]) * 1000 for i in range(3)]


def test_a_deferred_upload_that_fails_fails_the_block(s3_bucket):
    """The block's exit raises the store's error: the caller writes no marker."""
    out = Output(s3_bucket.replace("s3://", "s3://no-such-") + "/run")
    written = Output(s3_bucket + "/run")
    with pytest.raises(FileNotFoundError), deferred_uploads():
        written.write_bytes("raw/00000.tar", b"fine")
        out.write_bytes("raw/00000.tar", b"lost")
    assert written.read_bytes("raw/00000.tar") == b"fine"


def test_s3_parts_go_up_while_the_writer_goes_on(s3_bucket):
    """Each full part is uploaded on the upload thread, not in `write`; the object
    appears only when the block ends, byte for byte."""
    out = Output(s3_bucket + "/run", {"default_block_size": 5 * 2**20})
    payload = bytes(range(256)) * (4 * 2**15)  # 8 MiB
    bucket = s3_bucket.split("://")[1]
    with out.atomic("raw/00000.tar") as fh:
        for _ in range(3):
            fh.write(payload)
        assert fh.tell() == 3 * len(payload)
        assert not out.exists("raw/00000.tar")
        assert len(out.fs.list_multipart_uploads(bucket)) == 1
    assert out.read_bytes("raw/00000.tar") == payload * 3
    assert out.fs.list_multipart_uploads(bucket) == []
