"""Worker warm-up: load once, when a worker joins, what the stages load lazily."""
import io

import numpy as np
from PIL import Image

from irdata.imaging.encode import encode_png
from irdata.inspection import inspect_bytes
from irdata.tuning import tune


def warm_up() -> None:
    """`tune()`, import the stage modules and run Pillow's plugins, inspection and PNG
    encoding on a tiny image, so a worker's first tasks do not pay for them."""
    import irdata.stages  # noqa: F401  (every stage module and what it imports)

    tune()
    Image.init()
    tiny = np.full((64, 64, 3), 128, np.uint8)
    tiny[::2] = 0
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        Image.fromarray(tiny).save(buf, fmt)
        inspect_bytes(buf.getvalue(), max_pixels=1 << 20, min_side=1)
    encode_png(tiny)
