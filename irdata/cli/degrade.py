"""`irdata degrade preview IMAGE --out sheet.png`: parser, handler, and the sheet writer."""

from __future__ import annotations

import os

from irdata.cli.options import positive_int
from irdata.errors import UsageError


def add_commands(commands) -> None:
    """Register degrade preview on the `irdata` subparsers."""
    degrade = commands.add_parser("degrade", help="look at the degradations",
                                  allow_abbrev=False)
    actions = degrade.add_subparsers(dest="action", metavar="ACTION",
                                     parser_class=type(degrade))
    preview = actions.add_parser("preview", allow_abbrev=False,
                                 help="contact sheet of every kind at low/mid/high strength")
    preview.add_argument("image", help="an image file (any format irdata reads)")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--seed", type=int, default=0)
    preview.add_argument("--tile", type=positive_int, default=384,
                         help="side of each tile in pixels")
    degrade.set_defaults(handler=_cmd_degrade)


def _cmd_degrade(args) -> int:
    if args.action != "preview":
        raise UsageError("irdata degrade: an action is required: preview")
    write_preview(args.image, args.out, args.seed, args.tile)
    print(f"irdata: wrote {args.out}")
    return 0


def write_preview(image_path: str, out_path: str, seed: int = 0, tile: int = 384) -> None:
    """Decode `image_path` with irdata's own rules and write the preview sheet as PNG."""
    import cv2

    from irdata.degrade.preview import preview_sheet
    from irdata.imaging.decode import DecodeError, decode_rgb
    from irdata.imaging.sniff import sniff

    if not os.path.isfile(image_path):
        raise UsageError(f"image not found: {image_path}")
    if not out_path.lower().endswith(".png"):
        raise UsageError(f"--out must name a .png file, got {out_path}")
    with open(image_path, "rb") as fh:
        data = fh.read()
    fmt, problem = sniff(data)
    if problem:
        raise UsageError(f"{image_path}: not a supported image ({problem})")
    try:
        rgb = decode_rgb(data, fmt)
    except DecodeError as err:
        raise UsageError(f"{image_path}: cannot decode ({err.reason})") from None
    sheet = preview_sheet(rgb, seed=seed, tile=tile)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    if not cv2.imwrite(out_path, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise UsageError(f"cannot write {out_path}")
