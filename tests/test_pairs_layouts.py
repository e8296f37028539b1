"""`irdata pairs` on the two layouts of the official DyNet/PromptIR training data: RESIDE
OTS (synthetic/ hazy images beside original/) -> paired shards, and folders of clean
images (BSD400, WED, Train/Denoise/) -> clean shards that `kind: noise` tasks read."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from irdata.cli import main
from irdata.demo.synth import encode, procedural_image
from irdata.imaging.decode import decode_png
from irdata.imaging.files import read_rgb
from irdata.keys import image_id
from irdata.pairs.find import find_pairs
from irdata.shards import group_samples, iter_members
from irdata.train.data.tasks import maker_for

# clean id -> (seed, width, height, extensions written to original/)
OTS_CLEAN = {"0025": (1, 48, 40, ("jpg",)), "0026": (2, 56, 32, ("png",)),
             "0027": (3, 40, 40, ("jpg", "png")), "0028": (4, 32, 32, ("png", "bmp"))}
# hazy file (relative to synthetic/) -> the clean file it belongs to (None: unmatched)
OTS_HAZY = {"part1/0025_0.8_0.1.jpg": "original/0025.jpg",
            "part1/0026_0.9_0.2.jpg": "original/0026.png",  # any extension for the clean file
            "part2/0025_0.8_0.1.jpg": "original/0025.jpg",  # same name in another part
            "part2/0027_1_0.16.jpg": "original/0027.jpg",  # the hazy file's extension first
            "0026_1_0.08.jpg": "original/0026.png",  # directly in synthetic/
            "part2/0099_0.8_0.1.jpg": None,  # no clean image
            "part2/0028_0.8_0.1.jpg": None}  # 0028.png and 0028.bmp: ambiguous, not guessed
CLEAN_IMAGES = {"BSD400/2092.png": (11, 40, 36), "BSD400/8049.png": (12, 36, 48),
                "WED/00001.jpg": (13, 52, 40), "WED/00002.jpg": (14, 44, 44),
                "top.png": (15, 38, 38)}


def picture(seed: int, width: int, height: int) -> np.ndarray:
    return procedural_image(seed, width, height, sky_fraction=0.0)  # small: no sky band


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def hazy(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) * 0.6 + 0.4 * 255).astype(np.uint8)


@pytest.fixture
def ots(tmp_path) -> Path:
    root = tmp_path / "OTS"
    for clean_id, (seed, w, h, extensions) in OTS_CLEAN.items():
        for n, ext in enumerate(extensions):  # same id, other extension: other pixels
            write(root / "original" / f"{clean_id}.{ext}",
                  encode(picture(seed + 10 * n, w, h), "png" if ext == "bmp" else ext))
    for name in OTS_HAZY:
        seed, w, h, _ = OTS_CLEAN.get(Path(name).name.split("_")[0], (9, 32, 32, ()))
        write(root / "synthetic" / name, encode(hazy(picture(seed, w, h)), "jpg"))
    return root


@pytest.fixture
def denoise(tmp_path) -> Path:
    root = tmp_path / "Denoise"
    for name, (seed, w, h) in CLEAN_IMAGES.items():
        write(root / name, encode(picture(seed, w, h), Path(name).suffix[1:]))
    write(root / "WED" / "broken.jpg", b"\xff\xd8\xff\xe0 not really a JPEG")
    write(root / "README.txt", b"not an image: ignored")
    return root


def tar_samples(path: Path) -> dict[str, dict[str, bytes]]:
    with path.open("rb") as fh:
        return dict(group_samples(iter_members(fh)))


def run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_ots_hazy_images_pair_with_their_clean_image(ots, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run(["pairs", str(ots), "--out", str(out), "--per-shard", "3"], capsys)
    assert code == 0
    expected = {f"synthetic/{k}": v for k, v in OTS_HAZY.items() if v}
    assert "RESIDE OTS" in err and f"{len(expected)} dehaze pairs in 2 shard(s)" in err
    assert "2 input(s) without a target skipped" in err
    assert "synthetic/part2/0099_0.8_0.1.jpg" in err and "synthetic/part2/0028_0.8_0.1.jpg" in err
    listed = pq.read_table(out / "manifest" / "pairs.parquet").to_pylist()
    assert {r["lq"]: r["gt"] for r in listed} == expected
    assert sorted(find_pairs(str(ots)).unmatched) == [
        "synthetic/part2/0028_0.8_0.1.jpg", "synthetic/part2/0099_0.8_0.1.jpg"]
    samples = {**tar_samples(out / "paired" / "00000.tar"),
               **tar_samples(out / "paired" / "00001.tar")}
    assert len(samples) == len(expected)  # keys unique, even for one name in two parts
    for row in listed:
        sample = samples[row["key"]]
        record = json.loads(sample["json"])
        assert record["task"] == "dehaze" and (record["lq"], record["gt"]) == (row["lq"],
                                                                                row["gt"])
        assert np.array_equal(decode_png(sample["gt.png"]), read_rgb(str(ots / row["gt"])))
        assert np.array_equal(decode_png(sample["lq.0.png"]), read_rgb(str(ots / row["lq"])))
        assert row["key"] == image_id(f"OTS/{row['lq']}")


def test_ots_keys_and_shards_are_stable(ots, tmp_path):
    for name in ("a", "b"):
        assert main(["pairs", str(ots), "--out", str(tmp_path / name)]) == 0
    first, second = (pq.read_table(tmp_path / n / "manifest" / "shards.parquet").to_pylist()
                     for n in ("a", "b"))
    assert first == second and len(first) == 1
    wids = json.loads((tmp_path / "a" / "manifest" / "wids.json").read_text())
    assert [s["url"] for s in wids["shardlist"]] == ["../paired/00000.tar"]


def test_clean_folders_become_clean_shards(denoise, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run(["pairs", str(denoise), "--out", str(out), "--per-shard", "2"], capsys)
    assert code == 0
    assert "clean images layout: 5 denoise images (smallest side 36 px) in 3 shard(s)" in err
    assert "1 unreadable image(s) skipped: WED/broken.jpg (" in err
    shards = pq.read_table(out / "manifest" / "shards.parquet").to_pylist()
    assert [(s["path"], s["samples"], s["stage"]) for s in shards] == [
        ("patches/00000.tar", 2, "clean"), ("patches/00001.tar", 2, "clean"),
        ("patches/00002.tar", 1, "clean")]
    wids = json.loads((out / "manifest" / "wids.json").read_text())
    assert [(s["url"], s["nsamples"], s["sha256"]) for s in wids["shardlist"]] == [
        (f"../{s['path']}", s["samples"], s["sha256"]) for s in shards]
    for shard in shards:
        assert hashlib.sha256((out / shard["path"]).read_bytes()).hexdigest() == shard["sha256"]
    images = pq.read_table(out / "manifest" / "images.parquet").to_pylist()
    assert sorted(r["name"] for r in images) == sorted(CLEAN_IMAGES)
    samples = {k: v for s in shards for k, v in tar_samples(out / s["path"]).items()}
    for row in images:
        sample = samples[row["image_id"]]
        assert sorted(sample) == ["json", "png"]
        record = json.loads(sample["json"])
        assert {k: record[k] for k in ("name", "width", "height", "sha256")} == {
            k: row[k] for k in ("name", "width", "height", "sha256")}
        assert hashlib.sha256(sample["png"]).hexdigest() == row["sha256"]
        source = denoise / row["name"]
        expected = (np.asarray(Image.open(source).convert("RGB")) if source.suffix == ".png"
                    else read_rgb(str(source)))
        assert np.array_equal(decode_png(sample["png"]), expected)
        assert (row["width"], row["height"]) == CLEAN_IMAGES[row["name"]][1:]


def dihedral(image: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(im, k) for im in (image, image[:, ::-1]) for k in range(4)]


def in_image(crop: np.ndarray, image: np.ndarray) -> bool:
    size = crop.shape[0]
    return any(np.array_equal(c, image[y:y + size, x:x + size]) for c in dihedral(crop)
               for y in range(image.shape[0] - size + 1) for x in range(image.shape[1] - size + 1))


def test_noise_task_reads_clean_shards(denoise, tmp_path):
    out = tmp_path / "out"
    assert main(["pairs", str(denoise), "--out", str(out), "--task", "denoise"]) == 0
    make = maker_for({"kind": "noise", "sigma": 25})
    rng = np.random.default_rng(0)
    samples = tar_samples(out / "patches" / "00000.tar")
    assert len(samples) == len(CLEAN_IMAGES)
    for sample in samples.values():
        name = json.loads(sample["json"])["name"]
        lq, gt, what = make(rng, sample, 32)
        assert what == "noise25" and lq.shape == gt.shape == (32, 32, 3)
        assert np.abs(lq - gt).mean() > 0.02  # noise was added
        assert in_image(np.rint(gt * 255).astype(np.uint8), read_rgb(str(denoise / name)))


def test_rerun_never_overwrites(denoise, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["pairs", str(denoise), "--out", str(out)]) == 0
    code, err = run(["pairs", str(denoise), "--out", str(out)], capsys)
    assert code == 2 and "already holds shards" in err


def make_bad(root: Path, case: str) -> None:
    png = encode(picture(0, 32, 32), "png")
    files = {"empty": {}, "nothing": {"notes.txt": b"x"},
             "original only": {"original/0001.png": png},
             "synthetic only": {"synthetic/part1/0001_0.8_0.1.jpg": png},
             "no hazy": {"original/0001.png": png, "synthetic/part1/notes.txt": b"x"},
             "none match": {"original/0001.png": png, "synthetic/0002_0.8_0.1.png": png},
             "rainy only": {"rainy/rain-1.png": png},
             "nested layout": {"Denoise/1.png": png, "Derain/rainy/rain-1.png": png,
                               "Derain/gt/norain-1.png": png},
             "unreadable": {"bad.png": b"\x89PNG not really"}}[case]
    root.mkdir()
    for name, data in files.items():
        write(root / name, data)


@pytest.mark.parametrize("case, message", [
    ("empty", "the folder is empty"),
    ("nothing", "no pairs layout found"),
    ("original only", "original/ (clean images) has no synthetic/ (hazy images) beside it"),
    ("synthetic only", "synthetic/ (hazy images) has no original/ (clean images) beside it"),
    ("no hazy", "synthetic/ holds no images"),
    ("none match", "no input in synthetic/ matches a file in original/"),
    ("rainy only", "rainy/ has no target folder beside it"),
    ("nested layout", "Derain/ holds the pairs layout folder gt/: run irdata pairs on"),
    ("unreadable", "none of its 1 image(s) could be read (first: bad.png:"),
])
def test_bad_folders_are_one_line_and_exit_2(case, message, tmp_path, capsys):
    folder = tmp_path / "set"
    make_bad(folder, case)
    code, err = run(["pairs", str(folder), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out" / "manifest").exists()


def test_verify_checks_clean_shards(denoise, tmp_path, capsys):
    """OK as written; a json that disagrees with images.parquet is reported."""
    import tarfile

    out = tmp_path / "out"
    run(["pairs", str(denoise), "--out", str(out)], capsys)
    assert main(["verify", str(out)]) == 0
    assert "irdata verify: OK" in capsys.readouterr().out
    shard = next((out / "patches").glob("*.tar"))
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(shard, "w") as tar:
        for member, data in members:
            if member.name.endswith(".json"):
                record = json.loads(data)
                data = json.dumps({**record, "width": record["width"] + 1}).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    assert main(["verify", str(out)]) != 0
    assert "json_mismatch: json width=" in capsys.readouterr().out
