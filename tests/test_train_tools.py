"""`irdata eval`, `irdata restore`, `irdata pairs` and the training command line,
through the real CLI, on images and checkpoints made here."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from irdata.audit.verify import verify
from irdata.cli import main
from irdata.degrade import to_float
from irdata.demo.synth import encode, procedural_image
from irdata.pairs.find import find_pairs
from irdata.train import checkpoint
from irdata.train.eval import metrics
from irdata.train.eval.evaluate import noisy_copy
from irdata.train.eval.restore import restore_array, restore_float, tile_starts
from irdata.train.models.dynet import DyNet
from irdata.train.optim import make_optimizer, make_scheduler
from irdata.train.settings import describe, validate

ROOT = Path(__file__).resolve().parents[1]
OPTIM = validate({}, "pretrain")["optim"]


def save_checkpoint(run: Path, model: torch.nn.Module) -> Path:
    optimizer = make_optimizer(model, OPTIM)
    checkpoint.save(str(run), 1, model, optimizer, make_scheduler(optimizer, OPTIM, 10),
                    {"mode": "pretrain"}, {}, keep=1)
    return run / "checkpoints" / "last.pt"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt"), DyNet.tiny())


@pytest.fixture(scope="module")
def identity_checkpoint(tmp_path_factory) -> Path:
    """A DyNet whose body outputs zero: with the global residual, out == in."""
    torch.manual_seed(0)
    model = DyNet.tiny()
    torch.nn.init.zeros_(model.output.weight)
    return save_checkpoint(tmp_path_factory.mktemp("identity"), model)


def write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(pixels, "png"))


def rainy(pixels: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    streaks = (rng.random(pixels.shape[:2]) > 0.97)[..., None] * 120
    return np.clip(pixels.astype(np.int32) + streaks, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def rain_pairs(tmp_path_factory) -> Path:
    """Rain100H-style names: rainy/rain-00N.png beside norain/norain-00N.png."""
    root = tmp_path_factory.mktemp("pairs") / "rain100h"
    for n, (w, h) in enumerate([(97, 61), (120, 88), (64, 64)], 1):
        clean = procedural_image(n, w, h)
        write_png(root / "norain" / f"norain-{n:03d}.png", clean)
        write_png(root / "rainy" / f"rain-{n:03d}.png", rainy(clean, n))
    write_png(root / "rainy" / "rain-999.png", procedural_image(9, 64, 64))  # no target
    return root


def test_metrics_equal_scikit_image():
    rng = np.random.default_rng(0)
    for shape in [(7, 9, 3), (61, 97, 3), (128, 96, 3)]:
        gt = rng.random(shape)
        out = np.clip(gt + rng.normal(0, 0.05, shape), 0, 1)
        assert metrics.psnr(gt, out) == pytest.approx(
            peak_signal_noise_ratio(gt, out, data_range=1), abs=1e-9)
        assert metrics.ssim(gt, out) == pytest.approx(
            structural_similarity(gt, out, data_range=1, channel_axis=2), abs=1e-9)
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))


def test_pairs_are_matched_by_number(rain_pairs):
    found = find_pairs(str(rain_pairs))
    assert found.task == "derain"
    assert [(Path(p.lq).name, Path(p.gt).name) for p in found.pairs] == [
        ("rain-001.png", "norain-001.png"), ("rain-002.png", "norain-002.png"),
        ("rain-003.png", "norain-003.png")]
    assert found.unmatched == ["rainy/rain-999.png"]


def test_eval_on_pairs_equals_scikit_image(rain_pairs, tiny_checkpoint, tmp_path, capsys):
    report = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(tiny_checkpoint), "--variant", "S",
                 "--pairs", str(rain_pairs), "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "task: derain  images: 3" in printed and "input" in printed and "output" in printed
    result = json.loads(report.read_text())
    model, _ = checkpoint.load_model(str(tiny_checkpoint))
    for row, pair in zip(result["rows"], find_pairs(str(rain_pairs)).pairs, strict=True):
        lq = np.asarray(Image.open(pair.lq).convert("RGB"))
        gt = np.asarray(Image.open(pair.gt).convert("RGB"))
        out = restore_float(model, to_float(lq), "S").astype(np.float64)
        gt01, lq01 = gt / 255.0, lq / 255.0
        assert row["psnr_in"] == pytest.approx(peak_signal_noise_ratio(gt01, lq01,
                                                                       data_range=1))
        assert row["ssim_in"] == pytest.approx(structural_similarity(
            gt01, lq01, data_range=1, channel_axis=2))
        assert row["psnr_out"] == pytest.approx(peak_signal_noise_ratio(gt01, out,
                                                                        data_range=1))
        assert row["ssim_out"] == pytest.approx(structural_similarity(
            gt01, out, data_range=1, channel_axis=2))
    assert result["mean"]["psnr_in"] == pytest.approx(np.mean([r["psnr_in"]
                                                               for r in result["rows"]]))


def test_eval_noise_uses_seed_zero(tmp_path, identity_checkpoint, capsys):
    clean = procedural_image(3, 96, 80)
    write_png(tmp_path / "clean" / "a.png", clean)
    noisy = noisy_copy(clean, 25)
    assert np.array_equal(noisy, noisy_copy(clean, 25))
    assert abs((noisy.astype(float) - clean).std() - 25) < 2.5
    report = tmp_path / "noise.json"
    assert main(["eval", "--checkpoint", str(identity_checkpoint), "--clean",
                 str(tmp_path / "clean"), "--noise-sigma", "25", "--json", str(report)]) == 0
    row = json.loads(report.read_text())["rows"][0]
    expected = peak_signal_noise_ratio(clean / 255.0, noisy / 255.0, data_range=1)
    assert row["psnr_in"] == pytest.approx(expected)
    assert row["psnr_out"] == pytest.approx(expected, abs=1e-3)  # identity network
    assert "denoise sigma 25" in capsys.readouterr().out


def test_tiles_cover_the_image_with_overlap():
    assert tile_starts(100, 128, 16) == [0]
    starts = tile_starts(301, 64, 8)
    assert starts[0] == 0 and starts[-1] == 301 - 64
    assert all(b - a <= 64 - 8 for a, b in zip(starts, starts[1:], strict=False))


def test_restore_round_trips_an_odd_sized_image(tmp_path, identity_checkpoint, tiny_checkpoint):
    image = procedural_image(5, 301, 203)
    write_png(tmp_path / "in.png", image)
    assert main(["restore", "--checkpoint", str(identity_checkpoint), "--tile", "64",
                 "--overlap", "8", str(tmp_path / "in.png"), str(tmp_path / "out.png")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), image)
    model, _ = checkpoint.load_model(str(tiny_checkpoint))
    tiled = restore_array(model, image, "L", tile=128, overlap=16)
    assert tiled.shape == image.shape and not np.array_equal(tiled, image)
    # tiles start at x 0, 112, 173 and y 0, 75: the top-left corner is the first tile's alone
    first = restore_array(model, image[:128, :128], "L", tile=512)
    assert np.abs(tiled[:75, :112].astype(int) - first[:75, :112]).max() <= 1


def test_restore_a_folder(tmp_path, identity_checkpoint):
    for n in range(2):
        write_png(tmp_path / "in" / f"im{n}.png", procedural_image(n, 40 + n, 33))
    assert main(["restore", "--checkpoint", str(identity_checkpoint), str(tmp_path / "in"),
                 str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["im0.png", "im1.png"]


def test_pairs_command_writes_paired_shards(rain_pairs, tmp_path):
    out = tmp_path / "shards"
    assert main(["pairs", str(rain_pairs), "--out", str(out), "--per-shard", "2"]) == 0
    shards = pq.read_table(out / "manifest" / "shards.parquet").to_pylist()
    assert [s["path"] for s in shards] == ["paired/00000.tar", "paired/00001.tar"]
    rows = pq.read_table(out / "manifest" / "degradations.parquet").to_pylist()
    assert len(rows) == 3 and {r["kind"] for r in rows} == {"real"}
    with tarfile.open(out / "paired" / "00000.tar") as tar:
        names = tar.getnames()
        key = rows[0]["key"]
        assert names[:3] == [f"{key}.gt.png", f"{key}.lq.0.png", f"{key}.json"]
        record = json.loads(tar.extractfile(f"{key}.json").read())
        lq = np.asarray(Image.open(io.BytesIO(tar.extractfile(f"{key}.lq.0.png").read())))
    assert record["task"] == "derain" and record["lq"] == "rainy/rain-001.png"
    source = np.asarray(Image.open(rain_pairs / "rainy" / "rain-001.png").convert("RGB"))
    assert np.array_equal(lq, source)
    import hashlib
    assert hashlib.sha256((out / "paired" / "00000.tar").read_bytes()).hexdigest() == \
        shards[0]["sha256"]
    assert main(["pairs", str(rain_pairs), "--out", str(out)]) == 2  # never overwrites
    listed = pq.read_table(out / "manifest" / "pairs.parquet").to_pylist()
    assert [(r["lq"], r["width"], r["height"]) for r in listed] == [
        ("rainy/rain-001.png", 97, 61), ("rainy/rain-002.png", 120, 88),
        ("rainy/rain-003.png", 64, 64)]


def in_process(function, calls):
    return [function(*call) for call in calls]


def test_verify_checks_pair_shards(rain_pairs, tmp_path):
    out = tmp_path / "shards"
    assert main(["pairs", str(rain_pairs), "--out", str(out)]) == 0
    assert verify(str(out), in_process)["problems"] == []
    tar_path = out / "paired" / "00000.tar"
    with tarfile.open(tar_path) as tar:
        member = tar.getmember(tar.getnames()[1])  # the first lq.0.png
    data = bytearray(tar_path.read_bytes())
    data[member.offset_data + 100] ^= 0xFF
    tar_path.write_bytes(bytes(data))
    kinds = {(p.kind, p.what.split(" ")[2]) for p in verify(str(out), in_process)["problems"]
             if p.kind == "content_mismatch"}
    assert kinds == {("content_mismatch", "lq.0.png")}


@pytest.mark.parametrize("argv, message", [
    (["train", "pretrain", "missing.yaml"], "training config not found: missing.yaml"),
    (["train", "pretrain", "{cfg}"], "unknown key 'modle'"),
    (["train", "pretrain", "{ok}"], "no shards to train on: set data.shards (or --shards)"),
    (["train", "pretrain", "{ok}", "--shards", "{tmp}/none/{{0..3}}.tar"],
     "task pretrain: 4 of 4 shards do not exist"),
    (["train", "finetune", "{ft}"], "finetune starts from a checkpoint: set 'init' or pass "
                                    "--init"),
    (["train", "pretrain", "{ok}", "--shards", "{tmp}", "--resume"], "--resume: no "
                                                                     "checkpoint in"),
    (["eval", "--checkpoint", "{tmp}/none.pt", "--pairs", "{tmp}"], "checkpoint not found"),
    (["eval", "--checkpoint", "x.pt"], "give --pairs DIR, or --clean DIR with --noise-sigma"),
    (["eval", "--checkpoint", "x.pt", "--clean", "{tmp}", "--noise-sigma", "300"],
     "expected a sigma in (0, 255]"),
    (["restore", "--checkpoint", "x.pt", "--tile", "40", "a.png", "b.png"],
     "--tile (40) must exceed twice --overlap (32)"),
    (["pairs", "{tmp}", "--out", "{tmp}/o"], "no pairs layout found"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("modle: {}\n")
    (tmp_path / "ok.yaml").write_text("model: {config: tiny}\nout: run\n")
    (tmp_path / "ft.yaml").write_text("out: run\ntasks: {n: {kind: noise, sigma: 15, "
                                      "shards: x}}\n")
    (tmp_path / "s.tar").write_bytes(b"")
    values = {"cfg": str(tmp_path / "bad.yaml"), "ok": str(tmp_path / "ok.yaml"),
              "ft": str(tmp_path / "ft.yaml"), "tmp": str(tmp_path)}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_training_doc_lists_every_setting():
    text = (ROOT / "pipelines" / "TRAINING.md").read_text()
    assert [row for row in describe().splitlines() if row not in text] == []

