"""Real rain residuals against the synthetic rain on the same clean images.

    python benchmarks/rain_realism.py --pairs ../shared/corpus/rain100h_sample \
        [--half A|B|all] [--variants 5] [--seed 0] [--preset heavy] \
        [--config '{"density": [0.004, 0.02]}'] [--out-image rain_realism.png] [--no-record]

DIR holds ``rainy/`` and ``norain/`` with the same file names (the layout of the
public deraining test sets). For each pair the real residual is luma(rainy) -
luma(clean), positive part; the synthetic one is the same for ``rain`` drawn
from its default ranges (updated by --preset, then --config) and applied to the clean image
(--variants draws per image, seeded by (seed, file name, variant)). Both go
through ``irdata.degrade.measure.rain_stats``. Prints a table per metric: the
real median and p10-p90 over images, the synthetic median and p10-p90 over draws,
where the synthetic median falls in the real p10-p90 (0% = p10, 100% = p90) and
whether it is inside; then "k of N metrics inside". Writes a picture: per pair,
real residual | synthetic residual | synthetic rainy image.

--half A / B takes the first / second half of the pairs by sorted file name (A gets
the odd one out): choose settings on A, report them on B (a setting tuned on some
images says little about its fit on those same images).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import cv2
import numpy as np

from irdata.degrade import apply, measure, rain, rng_for, sample, to_float, to_uint8

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine

METRICS = [
    ("mean", "residual mean", "{:.3f}"),
    ("std", "residual spread (std)", "{:.3f}"),
    ("veil", "veil (median of opened residual)", "{:.3f}"),
    ("rain_share", "rain pixels (streak > 0.1)", "{:.1%}"),
    ("rain_mean", "streak intensity (mean on rain px)", "{:.3f}"),
    ("rain_p90", "streak intensity (p90 on rain px)", "{:.3f}"),
    ("angle", "dominant angle (deg from vertical)", "{:+.1f}"),
    ("coherence", "orientation coherence (0-1)", "{:.2f}"),
    ("length", "streak length (px, autocorrelation)", "{:.1f}"),
    ("width", "streak width (px, autocorrelation)", "{:.2f}"),
]


def load(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return to_float(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def pairs(folder: str) -> list[str]:
    rainy, clean = os.path.join(folder, "rainy"), os.path.join(folder, "norain")
    if not (os.path.isdir(rainy) and os.path.isdir(clean)):
        raise SystemExit(f"{folder} needs rainy/ and norain/ folders")
    names = sorted(set(os.listdir(rainy)) & set(os.listdir(clean)))
    if not names:
        raise SystemExit(f"no file names common to {rainy} and {clean}")
    return names


HALVES = ("A", "B", "all")


def half(names: list[str], which: str) -> list[str]:
    """The names of one half: A = the first ceil(n / 2) by sorted name, B = the rest."""
    if which not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, got {which!r}")
    ordered = sorted(names)
    cut = (len(ordered) + 1) // 2
    chosen = {"A": ordered[:cut], "B": ordered[cut:], "all": ordered}[which]
    if not chosen:
        raise SystemExit(f"half {which} of {len(ordered)} pair(s) is empty")
    return chosen


def synthetic(clean: np.ndarray, seed: int, name: str, variant: int, config: dict) -> np.ndarray:
    params = sample("rain", rng_for(seed, name, variant), config)
    return apply("rain", clean, params)


def compare(real: list[dict], synth: list[dict], key: str) -> dict:
    """Real p10 / median / p90 over images, synthetic p10 / median / p90 over draws,
    where the synthetic median falls in [p10, p90] (0 = p10, 1 = p90) and if inside."""
    real_values = np.array([row[key] for row in real], np.float64)
    synth_values = np.array([row[key] for row in synth], np.float64)
    p10, median, p90 = np.percentile(real_values, [10, 50, 90])
    s10, synth_median, s90 = np.percentile(synth_values, [10, 50, 90])
    where = (synth_median - p10) / (p90 - p10) if p90 > p10 else float("nan")
    return {"p10": float(p10), "median": float(median), "p90": float(p90),
            "synth_p10": float(s10), "synth_median": float(synth_median),
            "synth_p90": float(s90), "where": float(where),
            "inside": bool(p10 <= synth_median <= p90)}


def table(real: list[dict], synth: list[dict]) -> tuple[str, int]:
    """(markdown table, number of metrics inside)."""
    lines = [f"| metric | real median | real p10-p90 ({len(real)} images) | synthetic median "
             f"| synthetic p10-p90 ({len(synth)} draws) | where in real p10-p90 | inside |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    inside = 0
    for key, label, fmt in METRICS:
        c = compare(real, synth, key)
        inside += c["inside"]
        where = "-" if np.isnan(c["where"]) else f"{c['where']:.0%}"
        lines.append(f"| {label} | {fmt.format(c['median'])} | {fmt.format(c['p10'])} - "
                     f"{fmt.format(c['p90'])} | {fmt.format(c['synth_median'])} | "
                     f"{fmt.format(c['synth_p10'])} - {fmt.format(c['synth_p90'])} | {where} "
                     f"| {'yes' if c['inside'] else 'no'} |")
    return "\n".join(lines), inside


def _fit(image: np.ndarray, box: int) -> np.ndarray:
    """uint8 image scaled to fit a box x box square, centred on black."""
    height, width = image.shape[:2]
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(to_uint8(image), size, interpolation=cv2.INTER_AREA)
    out = np.zeros((box, box, 3), np.uint8)
    top, left = (box - size[1]) // 2, (box - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = small
    return out


def picture(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], box: int = 320) -> np.ndarray:
    """uint8 RGB: per pair, real residual | synthetic residual | synthetic rainy image."""
    header = np.full((24, 3 * box, 3), 255, np.uint8)
    for column, text in enumerate(("real residual", "synthetic residual", "synthetic rainy")):
        cv2.putText(header, text, (column * box + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    body = [np.hstack([_fit(cv2.merge([real] * 3), box), _fit(cv2.merge([made] * 3), box),
                       _fit(rainy, box)]) for real, made, rainy in rows]
    return np.vstack([header, *body])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", required=True, help="folder with rainy/ and norain/")
    parser.add_argument("--half", choices=HALVES, default="all",
                        help="A / B: first / second half of the pairs by sorted name")
    parser.add_argument("--variants", type=int, default=5, help="synthetic draws per image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", choices=sorted(rain.PRESETS),
                        help="a rain preset over the defaults")
    parser.add_argument("--config", default="{}", help="rain config JSON over the defaults")
    parser.add_argument("--out-image", default="rain_realism.png")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    config = {**(rain.PRESETS[args.preset] if args.preset else {}), **json.loads(args.config)}
    real, synth, shown = [], [], []
    names = half(pairs(args.pairs), args.half)
    for name in names:
        rainy = load(os.path.join(args.pairs, "rainy", name))
        clean = load(os.path.join(args.pairs, "norain", name))
        real_res = measure.residual(rainy, clean)
        real.append(measure.rain_stats(real_res))
        for variant in range(args.variants):
            made = synthetic(clean, args.seed, name, variant, config)
            synth_res = measure.residual(made, clean)
            synth.append(measure.rain_stats(synth_res))
            if variant == 0:
                shown.append((real_res, synth_res, made))
    text, inside = table(real, synth)
    verdict = f"{inside} of {len(METRICS)} metrics inside the real p10-p90"
    print(f"pairs: {args.half} ({len(names)}: {', '.join(names)})")
    print(text)
    print(verdict)
    cv2.imwrite(args.out_image, cv2.cvtColor(picture(shown), cv2.COLOR_RGB2BGR))
    print(f"picture: {args.out_image}")
    if not args.no_record:
        compared = {key: compare(real, synth, key) for key, _, _ in METRICS}

        def span(key: str, fmt: str) -> str:
            c = compared[key]
            return (f"{key} {fmt.format(c['synth_median'])} {'in' if c['inside'] else 'vs'} "
                    f"[{fmt.format(c['p10'])}, {fmt.format(c['p90'])}]")

        outside = [span(key, fmt) for key, _, fmt in METRICS if not compared[key]["inside"]]
        preset = f"preset {args.preset} {json.dumps(rain.PRESETS[args.preset])}" \
            if args.preset else "no preset"
        append_result("rain_realism", f"{os.path.basename(os.path.abspath(args.pairs))}, "
                      f"half {args.half} ({len(names)} pairs)",
                      f"{args.variants} draws per image, seed {args.seed}, {preset}, config "
                      f"{json.dumps(json.loads(args.config))}, {machine()}",
                      f"{verdict}; outside: {'; '.join(outside) or 'none'}; synthetic "
                      f"median in real [p10, p90]: "
                      + "; ".join(span(key, fmt) for key, _, fmt in METRICS
                                  if compared[key]["inside"]))


if __name__ == "__main__":
    main()
