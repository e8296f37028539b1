"""fetch -> dedupe -> patch -> manifest over a folder of generated photos, without
Dask: patches equal the source crops, shards hold exactly the kept patches, and
the consolidated tables agree with the tars."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import webdataset as wds
from inline_build import build_inline
from PIL import Image

from irdata.config import validate
from irdata.demo.synth import encode, near_duplicate, procedural_image
from irdata.imaging.decode import decode_rgb
from irdata.keys import image_id, patch_key
from irdata.patching.grid import grid


def _exif_rotated_jpeg(pixels: np.ndarray) -> bytes:
    """A JPEG stored sideways with EXIF orientation 6 (display = rotate 90 cw)."""
    stored = np.ascontiguousarray(np.rot90(pixels, k=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    root = tmp_path_factory.mktemp("patchbuild")
    photos = root / "photos"
    photos.mkdir()
    textured = procedural_image(1, 1300, 800, sky_fraction=0.0)
    (photos / "a_textured.png").write_bytes(encode(textured, "png"))
    (photos / "b_copy.jpg").write_bytes(near_duplicate(textured, scale=0.9, quality=80))
    sky = np.zeros((700, 1100, 3), np.uint8) + np.linspace(90, 130, 1100, dtype=np.uint8)[
        None, :, None]
    (photos / "c_sky.png").write_bytes(encode(sky, "png"))
    (photos / "d_rotated.jpg").write_bytes(
        _exif_rotated_jpeg(procedural_image(4, 600, 1100, sky_fraction=0.0)))
    config = validate({"sources": [{"name": "mine", "dir": str(photos), "license": "CC0"}],
                       "images_per_partition": 2}, "test", str(root))
    partitions = build_inline(config, str(root / "out"))
    return {"root": root, "out": root / "out", "photos": photos, "partitions": partitions}


def _table(path):
    return pq.read_table(path).to_pylist()


def _members(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _id(build, name):
    return image_id(str(build["photos"] / name))


def test_every_grid_cell_has_a_row(build):
    patches = _table(build["out"] / "manifest" / "patches.parquet")
    for name, (width, height) in {"a_textured.png": (1300, 800), "c_sky.png": (1100, 700),
                                  "d_rotated.jpg": (600, 1100)}.items():
        rows = [r for r in patches if r["image_id"] == _id(build, name)]
        assert [(r["y"], r["x"]) for r in rows] == grid(width, height, 512)
    assert not [r for r in patches if r["image_id"] == _id(build, "b_copy.jpg")]


def test_flat_sky_is_dropped_and_texture_kept(build):
    patches = _table(build["out"] / "manifest" / "patches.parquet")
    sky = [r for r in patches if r["image_id"] == _id(build, "c_sky.png")]
    assert sky and all(not r["kept"] and r["reason"] == "flat" for r in sky)
    assert all(r["flat_fraction"] > 0.5 and r["shard"] is None for r in sky)
    textured = [r for r in patches if r["image_id"] == _id(build, "a_textured.png")]
    assert textured and all(r["kept"] and r["reason"] == "" for r in textured)


def test_stored_patch_equals_the_source_crop(build):
    patches = _table(build["out"] / "manifest" / "patches.parquet")
    for name in ("a_textured.png", "d_rotated.jpg"):
        data = (build["photos"] / name).read_bytes()
        source = decode_rgb(data, "png" if name.endswith("png") else "jpeg")
        for row in [r for r in patches if r["image_id"] == _id(build, name) and r["kept"]]:
            png = _members(build["out"] / row["shard"])[f"{row['key']}.png"]
            stored = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                                  cv2.COLOR_BGR2RGB)
            y, x = row["y"], row["x"]
            assert np.array_equal(stored, source[y:y + 512, x:x + 512])
            assert row["sha256"] == hashlib.sha256(png).hexdigest()


def test_rotated_source_is_cut_upright(build):
    images = {r["image_id"]: r for r in _table(build["out"] / "manifest" / "images.parquet")}
    rotated = images[_id(build, "d_rotated.jpg")]
    assert (rotated["width"], rotated["height"], rotated["orientation"]) == (600, 1100, 6)
    assert rotated["patches_total"] == 2


def test_shards_hold_exactly_the_kept_patches(build):
    patches = _table(build["out"] / "manifest" / "patches.parquet")
    shards = [s for s in _table(build["out"] / "manifest" / "shards.parquet")
              if s["stage"] == "patch"]
    assert len(shards) == build["partitions"]
    stored_keys = []
    for shard in shards:
        path = build["out"] / shard["path"]
        data = path.read_bytes()
        assert shard["sha256"] == hashlib.sha256(data).hexdigest()
        assert shard["bytes"] == len(data)
        members = _members(path)
        keys = sorted({name.split(".")[0] for name in members})
        assert set(members) == {f"{k}.{ext}" for k in keys for ext in ("png", "json")}
        assert shard["samples"] == len(keys)
        for key in keys:
            lineage = json.loads(members[f"{key}.json"])
            assert key == patch_key(lineage["image_id"], lineage["y"], lineage["x"])
            assert lineage["license"] == "CC0" and lineage["source"] == "mine"
        stored_keys += keys
    kept = sorted(r["key"] for r in patches if r["kept"])
    assert sorted(stored_keys) == kept and len(kept) == len(set(kept))


def test_webdataset_reads_the_patch_shards(build):
    urls = [str(build["out"] / "patches" / f"{i:05d}.tar") for i in range(build["partitions"])]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("rgb8"))
    patches = _table(build["out"] / "manifest" / "patches.parquet")
    assert len(samples) == sum(1 for r in patches if r["kept"])
    assert all(s["png"].shape == (512, 512, 3) for s in samples)


def test_images_table_accounts_for_every_source(build):
    images = {r["image_id"]: r for r in _table(build["out"] / "manifest" / "images.parquet")}
    assert len(images) == 4
    copy = images[_id(build, "b_copy.jpg")]
    assert copy["dup_of"] == _id(build, "a_textured.png")
    assert copy["patch_status"] == "duplicate" and copy["patches_total"] is None
    keeper = images[_id(build, "a_textured.png")]
    assert keeper["dup_of"] is None and keeper["cluster_id"] == keeper["image_id"]
    assert keeper["patch_status"] == "cut" and keeper["patches_kept"] == 2
    clusters = _table(build["out"] / "dedupe" / "clusters.parquet")
    assert {r["image_id"] for r in clusters} == {copy["image_id"], keeper["image_id"]}


def _stage_files(out, folder: str) -> dict[str, bytes]:
    base = out / folder
    return {p.name: p.read_bytes() for p in sorted(base.iterdir())
            if p.suffix in (".tar", ".parquet")}


def test_cells_cut_at_fetch_time_are_consumed_and_removed(build):
    assert not list((build["out"] / "cells").glob("*")), "patch removes its cells files"
    stats = json.loads((build["out"] / "patches" / "00000.stats.json").read_text())
    assert stats["from_cells"] is True


def _fetch_and_dedupe(root, photos, patch: dict | None = None):
    from irdata.sources.plan import make_plan
    from irdata.stages import STAGES
    from irdata.storage import Output

    config = validate({"sources": [{"name": "mine", "dir": str(photos), "license": "CC0"}],
                       "images_per_partition": 2, "patch": patch or {}}, "test", str(root))
    out = root / "out"
    partitions = make_plan(config, Output(str(out))).partitions
    for index in range(partitions):
        STAGES["fetch"].run(config, str(out), index)
    STAGES["dedupe"].run(config, str(out), 0, partitions=partitions)
    return config, out, partitions, STAGES["patch"]


def test_patches_cut_again_equal_the_stored_cells(build, tmp_path):
    """Without cells (or with cells cut under other settings) the patch stage decodes
    the raw shard again: the same bytes either way."""
    import shutil

    config, out, partitions, stage = _fetch_and_dedupe(tmp_path / "a", build["photos"])
    shutil.copytree(out, tmp_path / "b")
    shutil.rmtree(tmp_path / "b" / "cells")
    adopted = []
    for index in range(partitions):
        adopted.append(stage.run(config, str(out), index)["cells_adopted"])
        again = stage.run(config, str(tmp_path / "b"), index)
        assert again["from_cells"] is False
    # Partition 0 holds a duplicate (its cells are copied without it); partition 1
    # none (its cells tar is moved into place as it is): the same bytes every way.
    assert adopted == [False, True]
    assert _stage_files(out, "patches") == _stage_files(tmp_path / "b", "patches")
    assert _stage_files(out, "patches") == _stage_files(build["out"], "patches")

    _, out_c, _, _ = _fetch_and_dedupe(tmp_path / "c", build["photos"],
                                           {"max_flat_fraction": 0.9})
    stats = stage.run(config, str(out_c), 0)  # cells cut with 0.9, asked 0.5
    assert stats["from_cells"] is False
    assert _stage_files(out_c, "patches")["00000.tar"] == _stage_files(out, "patches")[
        "00000.tar"]


def test_the_opencv_encoder_stores_the_same_pixels_in_other_bytes(build, tmp_path):
    """`patch.png_encoder: opencv` (libpng, adaptive filter, zlib level 6): other PNG
    bytes, the same patches pixel for pixel."""
    config = validate({"sources": [{"name": "mine", "dir": str(build["photos"]),
                                    "license": "CC0"}], "images_per_partition": 2,
                       "patch": {"png_encoder": "opencv", "png_filter": "adaptive",
                                 "png_compression": 6, "png_strategy": "default"}},
                      "test", str(tmp_path))
    build_inline(config, str(tmp_path / "out"))
    ours = _members(build["out"] / "patches" / "00001.tar")
    theirs = _members(tmp_path / "out" / "patches" / "00001.tar")
    pngs = sorted(name for name in ours if name.endswith(".png"))
    assert pngs and pngs == sorted(name for name in theirs if name.endswith(".png"))
    for name in pngs:
        assert ours[name] != theirs[name]
        assert np.array_equal(decode_rgb(ours[name], "png"), decode_rgb(theirs[name], "png"))
