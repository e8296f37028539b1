"""The benchmarks' folder walk: any folder of photos, nested, with stray files."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from image_files import decoded, image_files, image_paths


def test_nested_folders_are_walked_and_only_image_names_kept(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    for name in ("a.jpg", "b/C.JPG", "b/deep/d e.png", "b/notes.txt", "LICENSE"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "b" / "folder.jpg").mkdir()  # a folder with an image name is no file
    assert image_files(str(tmp_path)) == ["a.jpg", "b/C.JPG", "b/deep/d e.png"]
    assert image_paths([str(tmp_path / "b")]) == [str(tmp_path / "b" / "C.JPG"),
                                                 str(tmp_path / "b" / "deep/d e.png")]


def test_a_folder_without_images_or_no_folder_is_a_clear_exit(tmp_path):
    (tmp_path / "readme.txt").write_text("no photos here")
    with pytest.raises(SystemExit, match="no image files under"):
        image_files(str(tmp_path))
    with pytest.raises(SystemExit, match="is not a folder"):
        image_files(str(tmp_path / "missing"))


def test_decoded_gives_pixels_of_a_good_file_and_none_for_a_truncated_one(tmp_path, capsys):
    from irdata.demo import synth

    data = synth.encode(synth.procedural_image(0, 96, 128), "jpg", 90)
    (tmp_path / "good.jpg").write_bytes(data)
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    data_back, pixels = decoded(str(tmp_path / "good.jpg"))
    assert data_back == data and pixels.shape == (128, 96, 3)
    assert decoded(str(tmp_path / "cut.jpg")) is None
    assert "skipped" in capsys.readouterr().err


def _photos(folder: Path, count: int) -> Path:
    from irdata.demo import synth

    folder.mkdir()
    for seed in range(count):
        (folder / f"p{seed}.jpg").write_bytes(
            synth.encode(synth.procedural_image(seed, 1200, 800), "jpg", 90))
    return folder


@pytest.mark.parametrize("script, extra", [
    ("exclusion_scale.py", ["--sizes", "12", "--base", "4"]),
    ("exclusion_build.py", ["--excluded", "12", "--base", "4", "--variants", "1",
                            "--rounds", "1", "--per-partition", "2"]),
])
def test_the_exclusion_cost_benchmarks_run_on_a_small_folder(tmp_path, script, extra):
    """They run end to end (on tiny sizes) and print their figures, recording nothing."""
    import subprocess

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / script
    run = subprocess.run([sys.executable, str(bench), str(_photos(tmp_path / "photos", 3)),
                          *extra, "--no-record"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    expected = "12 images (" if script == "exclusion_scale.py" else "images dropped as excluded: 0 of 3"
    assert expected in run.stdout, run.stdout


def _pairs_folder(folder: Path, count: int, first_seed: int) -> Path:
    """rainy/ + norain/ of `count` generated pairs (the rainy one is the negative)."""
    from irdata.demo import synth

    for sub in ("rainy", "norain"):
        (folder / sub).mkdir(parents=True)
    for n in range(count):
        image = synth.procedural_image(first_seed + n, 96, 80)
        (folder / "norain" / f"norain-{n}.png").write_bytes(synth.encode(image, "png"))
        (folder / "rainy" / f"rain-{n}.png").write_bytes(synth.encode(255 - image, "png"))
    return folder


def _built(tmp_path: Path) -> Path:
    """A build output of 2 generated photos (1 worker)."""
    from irdata.cli import main as irdata_main

    built = tmp_path / "built"
    (tmp_path / "build.yaml").write_text(
        f"sources: [{{name: p, dir: {_photos(tmp_path / 'p', 2)}}}]\noutput: {built}\n")
    assert irdata_main(["build", str(tmp_path / "build.yaml"), "--workers", "1"]) == 0
    return built


def test_the_pretrain_gain_benchmark_runs_end_to_end(tmp_path):
    """Three arms x one seed at a few steps: builds both shard sets, splits both eval
    folders, trains, evaluates and prints every arm and both gains, recording nothing."""
    import subprocess

    from irdata.demo import synth

    clean = tmp_path / "clean"
    clean.mkdir()
    for n in range(4):
        image = synth.procedural_image(10 + n, 96, 80)
        (clean / f"c{n}.png").write_bytes(synth.encode(image, "png"))
    pairs = _pairs_folder(tmp_path / "rain", 4, 10)
    built = _built(tmp_path)
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "pretrain_gain.py"
    # --shards: a build output; the uncurated shards are rebuilt from its run.json
    run = subprocess.run([sys.executable, str(bench), "--shards", str(built),
                          "--eval-noise", str(clean), "--eval-pairs", str(pairs),
                          "--preset", "smoke", "--seeds", "1", "--work", str(tmp_path / "w"),
                          "--no-record"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for arm in ("scratch", "curated", "uncurated"):
        assert f"noise {arm}: PSNR" in run.stdout and f"rain {arm}: PSNR" in run.stdout
    assert "gain (b)-(a) pre-training" in run.stdout and "gain (b)-(c) curation" in run.stdout
    assert (tmp_path / "w" / "uncurated" / "patches").is_dir()


def test_the_transfer_gain_benchmark_runs_end_to_end(tmp_path):
    """The three arms x one seed at a few steps on generated shards and pairs."""
    import subprocess

    pairs = _pairs_folder(tmp_path / "rain", 2, 20)
    built = _built(tmp_path)
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "transfer_gain.py"
    run = subprocess.run([sys.executable, str(bench), "--shards", str(built), "--rain-pairs",
                          str(pairs), "--preset", "smoke", "--seeds", "1", "--few", "3",
                          "--work", str(tmp_path / "w"), "--no-record"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for arm in ("supervised", "ttl", "pretrain"):
        assert f"\n{arm}: PSNR" in run.stdout
    assert "gain (b)-(a) TTL over rain only" in run.stdout
    assert (tmp_path / "w" / "runs" / "ttl-seed0" / "student" / "student.pt").is_file()
