"""PNG settings for stored patches: encode time vs size on real 512x512 patches.

    python benchmarks/png_settings.py ../shared/corpus/photos [--patches 40]

Every setting is lossless; the table shows ms per patch (median, one thread) and
mean KiB per patch for OpenCV (libpng + zlib) levels x strategies with libpng's
adaptive row filter, for OpenCV level 1 + RLE with each fixed row filter, and for
irdata's ISA-L writer at levels 0-3 with each of its row filters; appends the
default (ISA-L level 1, "up"), OpenCV's fastest compressed setting (level 1, RLE,
"up"), its adaptive-filter variant and the fastest compressed setting overall.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import image_paths
from record import append_result, machine

from irdata.imaging import png_writer
from irdata.imaging.encode import PNG_FILTERS, encode_png


def real_patches(folder: str, count: int, size: int = 512) -> list[np.ndarray]:
    patches = []
    for path in image_paths([folder]):
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:  # unreadable: left out
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        for y in range(0, height - size + 1, size * 3):
            for x in range(0, width - size + 1, size * 3):
                patches.append(np.ascontiguousarray(rgb[y:y + size, x:x + size]))
        if len(patches) >= count:
            break
    return patches[:count]


def _pillow(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def measure(encode, patches) -> tuple[float, float]:
    times, sizes = [], []
    for rgb in patches:
        began = time.perf_counter()
        data = encode(rgb)
        times.append(time.perf_counter() - began)
        sizes.append(len(data))
    return statistics.median(times) * 1000, statistics.mean(sizes) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--patches", type=int, default=40)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    patches = real_patches(args.folder, args.patches)
    settings = [(f"opencv level {level} {strategy} adaptive",
                 lambda rgb, lv=level, st=strategy: encode_png(rgb, lv, st, "adaptive",
                                                                encoder="opencv"))
                for level in (0, 1, 3, 6) for strategy in ("default", "rle", "filtered")]
    settings += [(f"opencv level 1 rle {name}",
                  lambda rgb, fl=name: encode_png(rgb, 1, "rle", fl, encoder="opencv"))
                 for name in PNG_FILTERS if name != "adaptive"]
    settings += [(f"isal level {level} {name}",
                  lambda rgb, lv=level, fl=name: encode_png(rgb, lv, filter=fl, encoder="isal"))
                 for level in png_writer.LEVELS for name in png_writer.FILTERS]
    settings.append(("pillow default", _pillow))
    rows = [(name, *measure(encode, patches)) for name, encode in settings]
    print(f"{len(patches)} real 512x512 patches from {args.folder}")
    print(f"{'setting':<32} {'ms/patch':>9} {'KiB':>8}")
    for name, ms, kib in rows:
        print(f"{name:<32} {ms:>9.1f} {kib:>8.0f}")
    fastest = min((r for r in rows if " level 0 " not in r[0]), key=lambda r: r[1])
    chosen = next(r for r in rows if r[0] == "isal level 1 up")
    opencv = next(r for r in rows if r[0] == "opencv level 1 rle up")
    adaptive = next(r for r in rows if r[0] == "opencv level 1 rle adaptive")
    result = (f"isal level 1 up (default) {chosen[1]:.1f} ms {chosen[2]:.0f} KiB; "
              f"opencv level 1 rle up {opencv[1]:.1f} ms {opencv[2]:.0f} KiB; "
              f"opencv level 1 rle adaptive {adaptive[1]:.1f} ms {adaptive[2]:.0f} KiB; "
              f"fastest compressed: {fastest[0]} {fastest[1]:.1f} ms {fastest[2]:.0f} KiB")
    if not args.no_record:
        print(append_result("png_settings", os.path.basename(os.path.abspath(args.folder)),
                            f"{len(patches)} patches, 1 thread, {machine()}", result))


if __name__ == "__main__":
    main()
