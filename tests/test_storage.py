"""Atomic writes and temp clean-up through fsspec, locally and on another filesystem."""

import pytest

from irdata.storage import TMP_MARK, Output


@pytest.fixture(params=["local", "memory"])
def out(request, tmp_path):
    if request.param == "local":
        yield Output(str(tmp_path / "out"))
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
