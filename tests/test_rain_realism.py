"""benchmarks/rain_realism.py: the half split, the p10-p90 verdict, and a run end to end."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import rain_realism  # noqa: E402


def test_halves_split_sorted_names_into_disjoint_first_and_second_half():
    names = [f"{n}.png" for n in (90, 1, 54, 18, 81, 27, 72, 36, 63, 45)]
    first = rain_realism.half(names, "A")
    second = rain_realism.half(names, "B")
    assert first == ["1.png", "18.png", "27.png", "36.png", "45.png"]
    assert second == ["54.png", "63.png", "72.png", "81.png", "90.png"]
    assert rain_realism.half(names, "all") == sorted(names)
    odd = ["c", "a", "e", "b", "d"]
    assert (rain_realism.half(odd, "A"), rain_realism.half(odd, "B")) == (["a", "b", "c"],
                                                                          ["d", "e"])
    with pytest.raises(SystemExit, match="half B of 1 pair"):
        rain_realism.half(["only.png"], "B")
    with pytest.raises(ValueError, match="half must be one of"):
        rain_realism.half(names, "C")


def test_compare_puts_the_synthetic_median_against_the_real_p10_p90():
    real = [{"x": float(v)} for v in range(11)]  # p10 = 1, p90 = 9
    inside = rain_realism.compare(real, [{"x": v} for v in (4.0, 5.0, 6.0)], "x")
    assert (inside["p10"], inside["p90"], inside["synth_median"]) == (1.0, 9.0, 5.0)
    assert inside["inside"] and inside["where"] == pytest.approx(0.5)
    below = rain_realism.compare(real, [{"x": 0.5}], "x")
    assert not below["inside"] and below["where"] < 0
    assert rain_realism.compare(real, [{"x": 9.0}], "x")["inside"]  # the edge counts


def _pairs(folder: Path, count: int) -> Path:
    from irdata.degrade import apply, rain, rng_for, sample, to_float, to_uint8
    from irdata.demo import synth

    for sub in ("rainy", "norain"):
        (folder / sub).mkdir(parents=True)
    for n in range(count):
        clean = synth.procedural_image(20 + n, 96, 80)
        params = sample("rain", rng_for(5, f"p{n}"), rain.PRESETS["heavy"])
        rainy = to_uint8(apply("rain", to_float(clean), params))
        (folder / "norain" / f"p{n}.png").write_bytes(synth.encode(clean, "png"))
        (folder / "rainy" / f"p{n}.png").write_bytes(synth.encode(rainy, "png"))
    (folder / "rainy" / "unpaired.png").write_bytes(synth.encode(clean, "png"))
    return folder


def test_the_benchmark_runs_on_half_a_of_a_small_folder(tmp_path):
    """Half A of 4 pairs is p0, p1; the table has a verdict per metric and the summary
    counts them; --no-record leaves no BENCHMARKS.md (the run's folder is tmp_path)."""
    pairs = _pairs(tmp_path / "pairs", 4)
    picture = tmp_path / "picture.png"
    command = [sys.executable, str(BENCH / "rain_realism.py"), "--pairs", str(pairs),
               "--half", "A", "--variants", "2", "--preset", "heavy",
               "--out-image", str(picture)]
    run = subprocess.run([*command, "--no-record"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "pairs: A (2: p0.png, p1.png)" in run.stdout, run.stdout
    rows = [line for line in run.stdout.splitlines()
            if line.startswith("| ") and line.endswith((" yes |", " no |"))]
    assert len(rows) == len(rain_realism.METRICS), run.stdout
    assert "(2 images)" in run.stdout and "(4 draws)" in run.stdout
    summary = re.search(r"^(\d+) of (\d+) metrics inside the real p10-p90$", run.stdout, re.M)
    assert summary, run.stdout
    yes = sum(line.endswith(" yes |") for line in rows)
    assert (int(summary[1]), int(summary[2])) == (yes, len(rain_realism.METRICS))
    assert picture.stat().st_size > 0
    assert not (tmp_path / "BENCHMARKS.md").exists()

    recorded = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    row = (tmp_path / "BENCHMARKS.md").read_text().strip().splitlines()[-1]
    assert "| rain_realism | pairs, half A (2 pairs) |" in row
    assert f"{yes} of {len(rain_realism.METRICS)} metrics inside" in row
