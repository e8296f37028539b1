"""Atomic writes and temp clean-up through fsspec, locally and on another filesystem."""

import pytest

from irdata.storage import TMP_MARK, Output


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
        fh.write(big)
        fh.flush()  # the first part is uploaded
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
