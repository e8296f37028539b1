"""Real rain residuals against the synthetic rain on the same clean images.

    python benchmarks/rain_realism.py --pairs ../shared/corpus/rain100h_sample \
        [--variants 5] [--seed 0] [--preset heavy] [--config '{"density": [0.004, 0.02]}'] \
        [--out-image rain_realism.png] [--no-record]

DIR holds ``rainy/`` and ``norain/`` with the same file names (the layout of the
public deraining test sets). For each pair the real residual is luma(rainy) -
luma(clean), positive part; the synthetic one is the same for ``rain`` drawn
from its default ranges (updated by --preset, then --config) and applied to the clean image
(--variants draws per image, seeded by (seed, file name, variant)). Both go
through ``irdata.degrade.measure.rain_stats``. Prints a table (median and range
over images / draws) and writes a picture: per pair, real residual | synthetic
residual | synthetic rainy image.
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


def synthetic(clean: np.ndarray, seed: int, name: str, variant: int, config: dict) -> np.ndarray:
    params = sample("rain", rng_for(seed, name, variant), config)
    return apply("rain", clean, params)


def summary(rows: list[dict], key: str, fmt: str) -> str:
    values = np.array([row[key] for row in rows])
    return (f"{fmt.format(np.median(values))} "
            f"[{fmt.format(values.min())}, {fmt.format(values.max())}]")


def table(real: list[dict], synth: list[dict]) -> str:
    lines = [f"| metric | real: median [min, max] ({len(real)} images) | "
             f"synthetic: median [min, max] ({len(synth)} draws) |", "| --- | --- | --- |"]
    for key, label, fmt in METRICS:
        lines.append(f"| {label} | {summary(real, key, fmt)} | {summary(synth, key, fmt)} |")
    return "\n".join(lines)


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
    for name in pairs(args.pairs):
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
    text = table(real, synth)
    print(text)
    cv2.imwrite(args.out_image, cv2.cvtColor(picture(shown), cv2.COLOR_RGB2BGR))
    print(f"picture: {args.out_image}")
    if not args.no_record:
        shown_keys = ("rain_share", "rain_mean", "angle", "length", "width")
        brief = "; ".join(f"{key} real {summary(real, key, fmt).split(' ')[0]} vs synthetic "
                          f"{summary(synth, key, fmt).split(' ')[0]}"
                          for key, _, fmt in METRICS if key in shown_keys)
        append_result("rain_realism", os.path.basename(os.path.abspath(args.pairs)),
                      f"{args.variants} draws per image, preset {args.preset}, config "
                      f"{json.dumps(json.loads(args.config))}, {machine()}",
                      f"medians: {brief}")


if __name__ == "__main__":
    main()
