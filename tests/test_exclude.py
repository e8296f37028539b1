"""Benchmark decontamination: copies and crops of excluded images are found and
dropped; distinct images are not; bad sets fail before any work."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from inline_build import build_inline
from PIL import Image

from irdata import config as config_mod
from irdata.demo import synth
from irdata.errors import ConfigError
from irdata.exclude import compiled, lookup, sets
from irdata.exclude.index import ExclusionIndex
from irdata.inspection import examine, examine_cells
from irdata.patching import cells as cells_mod
from irdata.quality import working
from irdata.storage import Output

EXCLUDED = [synth.procedural_image(seed, 1024, 768) for seed in (11, 12, 13)]
BIG = synth.procedural_image(21, 4000, 3000)  # sky above y ~1400, texture below
CROP = (2400, 1500, 3424, 2268)  # x0, y0, x1, y1 of the 1x crop in BIG


def _downscaled_crop(factor: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A region of BIG (512 x 384 times `factor`), shrunk `factor` times."""
    x0, y0 = 300, 1440
    x1, y1 = x0 + 512 * factor, y0 + 384 * factor
    region = BIG[y0:y1, x0:x1]
    small = cv2.resize(region, ((x1 - x0) // factor, (y1 - y0) // factor),
                       interpolation=cv2.INTER_AREA)
    return small, (x0, y0, x1, y1)


def _png(pixels: np.ndarray) -> bytes:
    return synth.encode(pixels, "png")


def _cmyk_jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).convert("CMYK").save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _grey(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def _resized(pixels: np.ndarray, scale: float) -> np.ndarray:
    return cv2.resize(pixels, None, fx=scale, fy=scale,
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def index() -> ExclusionIndex:
    rows = [sets.fingerprint_row("evalset", f"e{i}.png", _png(p)) for i, p in enumerate(EXCLUDED)]
    rows.append(sets.fingerprint_row("evalset", "crop1x.png",
                                     _png(BIG[CROP[1]:CROP[3], CROP[0]:CROP[2]])))
    for factor in (2, 3, 4):
        rows.append(sets.fingerprint_row("evalset", f"crop{factor}x.png",
                                         _png(_downscaled_crop(factor)[0])))
    return ExclusionIndex(pa.Table.from_pylist(rows, schema=sets.SCHEMA))


def _matches(index: ExclusionIndex, data: bytes):
    found, pixels = examine(data, 10**9, 1)
    return index.find(found.sha256, pixels, working.to_working(pixels), found.phash, found.dhash)


COPIES = {
    "same bytes": lambda p: _png(p),
    "jpeg q50": lambda p: synth.encode(p, "jpg", 50),
    "jpeg q95": lambda p: synth.encode(p, "jpg", 95),
    "resized 0.25x": lambda p: synth.encode(_resized(p, 0.25), "jpg", 90),
    "resized 0.5x": lambda p: synth.encode(_resized(p, 0.5), "jpg", 90),
    "resized 1.5x": lambda p: synth.encode(_resized(p, 1.5), "jpg", 90),
    "resized 2x": lambda p: synth.encode(_resized(p, 2.0), "jpg", 90),
    "grey": lambda p: synth.encode(_grey(p), "jpg", 90),
    "cmyk": _cmyk_jpeg,
    "mirrored": lambda p: synth.encode(np.ascontiguousarray(p[:, ::-1]), "jpg", 90),
    "flipped": lambda p: synth.encode(np.ascontiguousarray(p[::-1]), "jpg", 90),
    "rotated 180": lambda p: synth.encode(np.ascontiguousarray(p[::-1, ::-1]), "jpg", 90),
}


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_copies_of_an_excluded_image_are_whole_image_matches(index, copy):
    for number, pixels in enumerate(EXCLUDED):
        matches = _matches(index, COPIES[copy](pixels))
        assert matches and matches[0].whole, (copy, number)
        assert (matches[0].set, matches[0].file) == ("evalset", f"e{number}.png"), copy


def test_the_same_pixels_in_another_format_are_an_exact_pixel_match(index):
    buf = io.BytesIO()
    Image.fromarray(EXCLUDED[0]).save(buf, "TIFF")
    assert _matches(index, buf.getvalue())[0].kind == "pixels"
    assert _matches(index, _png(EXCLUDED[0]))[0].kind == "exact"


def _close(box, truth, tolerance=0.03) -> bool:
    span = max(truth[2] - truth[0], truth[3] - truth[1])
    return all(abs(a - b) <= tolerance * span for a, b in zip(box, truth, strict=True))


def test_a_source_holding_crops_of_excluded_images_is_found_with_their_regions(index):
    matches = {m.file: m for m in _matches(index, synth.encode(BIG, "jpg", 90))}
    assert matches["crop1x.png"].kind == "contained"
    assert _close(matches["crop1x.png"].region, CROP)
    for factor in (2, 3, 4):
        assert _close(matches[f"crop{factor}x.png"].region, _downscaled_crop(factor)[1]), factor


def test_a_crop_covering_most_of_the_source_excludes_the_whole_image(index):
    x0, y0, x1, y1 = _downscaled_crop(4)[1]
    matches = _matches(index, synth.encode(BIG[y0 - 100:y1 + 100, x0 - 100:x1 + 100], "jpg", 90))
    assert matches[0].file == "crop4x.png" and matches[0].whole


def test_distinct_images_match_nothing(index):
    for seed in range(100, 112):
        pixels = synth.procedural_image(seed, 2000, 1500)
        assert _matches(index, synth.encode(pixels, "jpg", 90)) == [], seed


def test_cells_overlapping_a_region_are_dropped_and_the_rest_judged():
    index = ExclusionIndex(pa.Table.from_pylist(
        [sets.fingerprint_row("evalset", "crop2x.png", _png(_downscaled_crop(2)[0]))],
        schema=sets.SCHEMA))
    data = synth.encode(BIG[1000:], "jpg", 92)
    found, pixels, measured = examine_cells(data, 10**9, 1, None, None, index)
    assert found.status == "ok" and found.excluded_kind == "contained"
    regions = json.loads(found.excluded_regions)
    patch = {name: spec.default for name, spec in config_mod.PATCH.items()}
    cut = cells_mod.cut(pixels, patch, measured, regions)
    excluded = [c for c in cut if c.reason == "excluded:evalset"]
    assert excluded and all(c.png is None for c in excluded)
    boxes = [r["box"] for r in regions]
    for cell in cut:
        touches = any(c.x < b[2] and b[0] < c.x + 512 and c.y < b[3] and b[1] < c.y + 512
                      for b in boxes for c in [cell])
        assert touches == (cell.reason == "excluded:evalset"), (cell.x, cell.y)
    assert any(c.png is not None for c in cut)  # cells away from the crops are kept
    row = cells_mod.patch_row("img", excluded[0], 512, None)
    assert row["excluded_set"] == "evalset" and row["excluded_kind"] == "contained"


def test_a_whole_image_match_drops_the_image_in_inspection(index):
    found, pixels, _ = examine_cells(synth.encode(EXCLUDED[1], "jpg", 70), 10**9, 1,
                                     None, None, index)
    assert pixels is None and (found.status, found.reason) == ("dropped", "excluded")
    assert found.detail.startswith("evalset/e1.png (near") and found.excluded_file == "e1.png"


# ---------------------------------------------------------------- sets and the build

def _write(folder, name, data: bytes):
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def _pipeline(tmp_path, exclude) -> dict:
    photos = tmp_path / "photos"
    for seed in (31, 32, 33):
        _write(photos, f"distinct{seed}.jpg",
               synth.encode(synth.procedural_image(seed, 1536, 1024), "jpg", 92))
    _write(photos, "copy_of_e0.jpg", synth.encode(_resized(EXCLUDED[0], 1.5), "jpg", 85))
    _write(photos, "holds_crop.jpg", synth.encode(BIG[1000:2600, :2600], "jpg", 92))
    raw = {"sources": [{"name": "photos", "dir": str(photos)}], "exclude": exclude,
           "inspect": {"min_side": 256}}
    return config_mod.validate(raw, "test.yaml", str(tmp_path))


def _built(tmp_path, files: dict[str, bytes]):
    """A build of the test photos with an `evalset` folder set holding `files`."""
    evalset = tmp_path / "evalset"
    for name, data in files.items():
        _write(evalset, name, data)
    out = tmp_path / "out"
    build_inline(_pipeline(tmp_path, [{"name": "evalset", "dir": str(evalset)}]), str(out))
    return out


def test_a_build_drops_copies_and_crops_and_keeps_the_rest(tmp_path):
    out = _built(tmp_path, {"e0.png": _png(EXCLUDED[0]),
                            "sub/crop2x.png": _png(_downscaled_crop(2)[0])})
    images = {r["locator"].rsplit("/", 1)[1]: r
              for r in pq.read_table(out / "manifest" / "images.parquet").to_pylist()}
    assert images["copy_of_e0.jpg"]["reason"] == "excluded"
    assert images["copy_of_e0.jpg"]["excluded_file"] == "e0.png"
    held = images["holds_crop.jpg"]
    assert held["status"] == "ok" and held["excluded_file"] == os.path.join("sub", "crop2x.png")
    for name in ("distinct31.jpg", "distinct32.jpg", "distinct33.jpg"):
        assert images[name]["excluded_set"] is None and images[name]["reason"] != "excluded"
    patches = pq.read_table(out / "manifest" / "patches.parquet").to_pylist()
    excluded = [p for p in patches if p["reason"] == "excluded:evalset"]
    assert excluded and all(not p["kept"] and p["excluded_file"] for p in excluded)
    assert not any(p["kept"] and p["excluded_set"] for p in patches)
    assert (out / "exclude" / "evalset.parquet").exists()


def test_a_hash_list_excludes_as_the_folder_does(tmp_path):
    evalset = tmp_path / "evalset"
    _write(evalset, "e0.png", _png(EXCLUDED[0]))
    hashes = tmp_path / "evalset.parquet"
    run = subprocess.run([sys.executable, "-m", "irdata", "exclusions", "build", str(evalset),
                          "--name", "shared", "--out", str(hashes)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "1 images of shared" in run.stderr
    out = tmp_path / "out"
    build_inline(_pipeline(tmp_path, [{"name": "mine", "hashes": str(hashes)}]), str(out))
    images = pq.read_table(out / "manifest" / "images.parquet").to_pylist()
    dropped = [r for r in images if r["reason"] == "excluded"]
    assert len(dropped) == 1 and dropped[0]["excluded_set"] == "mine"


def test_check_overlap_finds_what_an_unprotected_build_kept(tmp_path):
    out = tmp_path / "out"
    build_inline(_pipeline(tmp_path, None), str(out))
    evalset = tmp_path / "evalset"
    _write(evalset, "e0.png", _png(EXCLUDED[0]))
    _write(evalset, "crop2x.png", _png(_downscaled_crop(2)[0]))
    run = subprocess.run([sys.executable, "-m", "irdata", "check-overlap", str(out),
                          "--against", str(evalset)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1, run.stderr
    found = sorted(line.split("\t")[0].rsplit("/", 1)[1] for line in run.stdout.splitlines())
    assert found == ["copy_of_e0.jpg", "holds_crop.jpg"]
    assert "2 overlap(s)" in run.stderr
    import hashlib

    copy = (tmp_path / "photos" / "copy_of_e0.jpg").read_bytes()
    listed = _hash_csv(tmp_path / "listed.csv", ["file,sha256",
                                                 f"e0.jpg,{hashlib.sha256(copy).hexdigest()}"])
    run = subprocess.run([sys.executable, "-m", "irdata", "check-overlap", str(out),
                          "--against", str(listed)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and run.stdout.count("\n") == 1, run.stderr
    assert "listed/e0.jpg\texact" in run.stdout


def _hash_csv(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_of_precomputed_hashes_excludes_copies(tmp_path):
    """A shared CSV (bytes sha256, or pHash + dHash as imagehash gives them) drops
    exact and near copies; what it cannot see (crops) is kept."""
    import hashlib

    import imagehash

    copy = synth.encode(_resized(EXCLUDED[0], 1.5), "jpg", 85)
    _write(tmp_path / "photos", "copy_of_e0.jpg", copy)  # the bytes the CSV names
    phash_of = Image.fromarray(EXCLUDED[2])
    lines = ["File,SHA256,phash,dhash",
             f"copy.jpg,{hashlib.sha256(copy).hexdigest()},,",
             f"e2.png,,{imagehash.phash(phash_of)},{imagehash.dhash(phash_of)}"]
    config = _pipeline(tmp_path, [{"name": "csvset", "hashes": str(
        _hash_csv(tmp_path / "evalset.csv", lines))}])
    _write(tmp_path / "photos", "near_e2.jpg", synth.encode(_resized(EXCLUDED[2], 0.75), "jpg", 70))
    out = tmp_path / "out"
    build_inline(config, str(out))
    images = {r["locator"].rsplit("/", 1)[1]: r
              for r in pq.read_table(out / "manifest" / "images.parquet").to_pylist()}
    dropped = {n: (r["excluded_file"], r["excluded_kind"]) for n, r in images.items()
               if r["reason"] == "excluded"}
    assert dropped == {"copy_of_e0.jpg": ("copy.jpg", "exact"), "near_e2.jpg": ("e2.png", "near")}
    assert images["holds_crop.jpg"]["excluded_set"] is None  # no features in a CSV


@pytest.mark.parametrize("lines, message", [
    (["name,sha256", "a.png," + "0" * 64], "no 'file' column"),
    (["file,sha256,colour", "a.png," + "0" * 64 + ",red"], "unknown column 'colour'"),
    (["file,sha256", "a.png,abc"], "line 2: sha256 'abc' is not 64 hex characters"),
    (["file,phash", "a.png," + "f" * 16], "line 2: phash and dhash go together"),
    (["file,pixels_sha256", "a.png," + "0" * 64], "line 2: pixels_sha256 needs width and height"),
    (["file,sha256", "a.png," + "0" * 64, "b.png,"], "line 3: no hash"),
    (["file,sha256"], "no rows"),
])
def test_a_bad_csv_hash_list_names_the_problem(tmp_path, lines, message):
    path = _hash_csv(tmp_path / "set.csv", lines)
    with pytest.raises(sets.ExclusionError, match=message):
        sets.read_hash_list(str(path), "set")


def test_a_remote_archive_is_downloaded_once_before_the_build(tmp_path, served):
    import zipfile

    folder, base, _ = served
    with zipfile.ZipFile(folder / "evalset.zip", "w") as zf:
        zf.writestr("e0.png", _png(EXCLUDED[0]))
    raw = {"sources": [{"name": "photos", "dir": str(tmp_path / "photos")}],
           "exclude": [{"name": "remote", "archive": f"{base}/evalset.zip"}],
           "inspect": {"min_side": 256}, "fetch": {"allow_private_networks": True}}
    _pipeline(tmp_path, None)  # writes the photos
    out = tmp_path / "out"
    build_inline(config_mod.validate(raw, "t.yaml", str(tmp_path)), str(out))
    images = pq.read_table(out / "manifest" / "images.parquet").to_pylist()
    assert [r["excluded_file"] for r in images if r["reason"] == "excluded"] == ["e0.png"]
    downloaded = list((out / "cache" / "exclude").iterdir())
    assert [p.suffix for p in downloaded] == [".zip"]
    (folder / "evalset.zip").unlink()  # a rerun reuses the download
    assert compiled.compile_sets(config_mod.validate(raw, "t.yaml", str(tmp_path)),
                             Output(str(out))) == ["exclude/remote.parquet"]


def test_an_unreachable_remote_set_is_one_clear_error(tmp_path, served):
    _, base, _ = served
    _pipeline(tmp_path, None)
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(json.dumps({
        "sources": [{"name": "photos", "dir": str(tmp_path / "photos")}],
        "exclude": [{"name": "gone", "hashes": f"{base}/missing.parquet"}],
        "fetch": {"allow_private_networks": True}, "output": str(tmp_path / "out")}))
    run = subprocess.run([sys.executable, "-m", "irdata", "build", str(pipeline)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert "exclusion set 'gone': cannot download" in last and "404" in last, run.stderr
    assert not (tmp_path / "out" / "raw").exists()


def test_a_missing_set_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"exclude\[0\]\.dir': not found"):
        _pipeline(tmp_path, [{"name": "gone", "dir": str(tmp_path / "nowhere")}])
    with pytest.raises(ConfigError, match="'exclude\\[0\\]\\.dir': a web URL; a folder is a local"):
        _pipeline(tmp_path, [{"name": "far", "dir": "https://example.org/bsd/"}])
    with pytest.raises(ConfigError, match="exactly one of dir, archive, hashes"):
        _pipeline(tmp_path, [{"name": "both", "dir": str(tmp_path), "hashes": "x.parquet"}])


@pytest.mark.parametrize("problem", ["corrupt image", "empty", "bad hash list"])
def test_a_bad_set_fails_the_build_before_any_work(tmp_path, problem):
    evalset = tmp_path / "evalset"
    evalset.mkdir()
    spec = {"name": "evalset", "dir": str(evalset)}
    if problem == "corrupt image":
        _write(evalset, "ok.png", _png(EXCLUDED[0]))
        _write(evalset, "broken.png", _png(EXCLUDED[1])[:300])
    if problem == "bad hash list":
        bad = tmp_path / "bad.parquet"
        pq.write_table(pa.table({"x": [1]}), bad)
        spec = {"name": "evalset", "hashes": str(bad)}
    _pipeline(tmp_path, [spec])  # writes the photos; the set itself is read at build time
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(json.dumps({"sources": [{"name": "photos", "dir": str(tmp_path / "photos")}],
                                    "exclude": [spec], "output": str(tmp_path / "out")}))
    run = subprocess.run([sys.executable, "-m", "irdata", "build", str(pipeline)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    message = run.stderr.strip().splitlines()
    assert len(message) == 1 and "exclusion" in message[0], run.stderr
    assert {"corrupt image": "broken.png", "empty": "no images",
            "bad hash list": "not written by"}[problem] in message[0]
    assert not (tmp_path / "out" / "raw").exists()  # nothing fetched


def test_verify_flags_a_kept_patch_inside_an_excluded_region(tmp_path):
    from irdata.audit.verify import verify

    out = _built(tmp_path, {"crop2x.png": _png(_downscaled_crop(2)[0])})
    run_inline = lambda function, calls: [function(*call) for call in calls]  # noqa: E731
    assert verify(str(out), run_inline)["problems"] == []
    path = out / "manifest" / "patches.parquet"
    table = pq.read_table(path)
    rows = table.to_pylist()
    victim = next(r for r in rows if r["reason"] == "excluded:evalset")
    victim.update(kept=True, reason="", excluded_set=None, excluded_file=None,
                  excluded_kind=None, excluded_distance=None)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)
    problems = verify(str(out), run_inline)["problems"]
    assert [p.key for p in problems if p.kind == "excluded_kept"] == [victim["key"]]


def test_matching_is_deterministic(index):
    """Outputs must not depend on run or order: the same source, matched again after
    other sources, gives the same regions and distances."""
    data = synth.encode(BIG, "jpg", 90)
    first = _matches(index, data)
    _matches(index, synth.encode(EXCLUDED[2], "jpg", 80))
    assert [_matches(index, data) for _ in range(3)] == [first] * 3


def test_the_report_shows_the_matches_per_set(tmp_path):
    from irdata.audit.report import write_report

    out = _built(tmp_path, {"e0.png": _png(EXCLUDED[0]),
                            "crop2x.png": _png(_downscaled_crop(2)[0])})
    page = open(write_report(str(out)), encoding="utf-8").read()
    section = page.split("Decontamination (evaluation sets kept out)", 1)[1].split("<section>")[0]
    cells = int(section.split("<td>evalset</td>", 1)[1].split("</tr>")[0]
                .replace("</td>", "").split("<td>")[-1])
    assert "<td>evalset</td><td>1</td><td>1</td>" in section and cells > 0
    assert "evalset/crop2x.png (contained" in section and "evalset/e0.png (near" in section
    assert section.count("<img") == 4  # region + thumbnail, placeholder + thumbnail


def test_an_archive_set_reads_like_a_folder(tmp_path):
    import zipfile

    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner/e1.png", _png(EXCLUDED[1]))
        zf.writestr("notes.txt", "not an image")
    table = sets.build_table({"name": "zipped", "kind": "archive", "path": str(archive)})
    assert table.column("file").to_pylist() == ["inner/e1.png"]
    index = ExclusionIndex(table)
    assert _matches(index, synth.encode(EXCLUDED[1], "jpg", 60))[0].file == "inner/e1.png"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(sets.ExclusionError, match="cannot read archive"):
        sets.build_table({"name": "broken", "kind": "archive", "path": str(broken)})


def test_the_descriptor_table_is_stored_once_and_memory_mapped(tmp_path):
    """compile_sets stores the table; a worker opens it mapped (no load, one copy per
    machine) and matches as a table built in memory does; a changed set replaces it."""
    evalset = tmp_path / "evalset"
    _write(evalset, "crop2x.png", _png(_downscaled_crop(2)[0]))
    config = _pipeline(tmp_path, [{"name": "evalset", "dir": str(evalset)}])
    out = Output(str(tmp_path / "out"))
    paths = compiled.compile_sets(config, out)
    stored = sorted(p.name for p in (tmp_path / "out" / "exclude" / "index").iterdir())
    key = compiled.table_key(out, paths)
    assert stored == sorted([f"{key}.done"] + [f"{key}.{n}.npy" for n in lookup.ARRAYS])
    compiled._CACHE.clear()
    mapped = compiled.exclusion_index(out, config)
    assert not mapped.table.order.flags.owndata and not mapped.table.order.flags.writeable
    built = ExclusionIndex(sets.read_table(out.path(paths[0])))
    source = synth.encode(BIG[1000:2600, :2600], "jpg", 92)
    assert _matches(mapped, source) == _matches(built, source) != []
    _write(evalset, "e0.png", _png(EXCLUDED[0]))
    paths = compiled.compile_sets(config, out)
    assert sorted(p.name for p in (tmp_path / "out" / "exclude" / "index").iterdir())[0] \
        .startswith(compiled.table_key(out, paths)) and compiled.table_key(out, paths) != key
    assert len(list((tmp_path / "out" / "exclude" / "index").iterdir())) == len(stored)
