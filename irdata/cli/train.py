"""`irdata train`, `irdata eval` and `irdata restore`: parsers and handlers."""

from __future__ import annotations

import argparse
import json
import sys

from irdata.cli.options import positive_int
from irdata.errors import UsageError


def _sigma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 255:
        raise argparse.ArgumentTypeError(f"expected a sigma in (0, 255], got {text!r}")
    return value


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="a checkpoint (.pt) of irdata train")
    parser.add_argument("--variant", choices=("L", "S"), default="L",
                        help="DyNet variant on the shared weights (default L)")
    parser.add_argument("--tile", type=positive_int, default=512,
                        help="tile side for large images (default 512)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda "
                        "if available)")


def add_commands(commands) -> None:
    """Register train, eval and restore on the `irdata` subparsers."""
    train = commands.add_parser("train", help="DyNet pre-training and fine-tuning",
                                allow_abbrev=False)
    modes = train.add_subparsers(dest="mode", metavar="MODE", parser_class=type(train))
    for mode, text in (("pretrain", "dynamic pre-training on clean patch shards"),
                       ("finetune", "all-in-one fine-tuning from a checkpoint"),
                       ("supervised", "the finetune tasks from a fresh model"),
                       ("distill", "a student learns teacher checkpoints on their tasks")):
        sub = modes.add_parser(mode, help=text, allow_abbrev=False)
        sub.add_argument("config", help="training YAML (see pipelines/TRAINING.md)")
        sub.add_argument("--shards", help="clean patch shards (pretrain data; replaces "
                         "data.shards): a folder, brace pattern, glob or fsspec URL")
        if mode == "finetune":
            sub.add_argument("--init", help="checkpoint to start from (replaces `init`)")
        sub.add_argument("--out", help="run folder (replaces `out`)")
        sub.add_argument("--steps", type=positive_int, help="total steps (replaces `steps`)")
        sub.add_argument("--resume", action="store_true",
                         help="continue exactly from OUT/checkpoints/last.pt")
    transfer = modes.add_parser("transfer", help="task transfer learning: connected-task "
                                "teachers -> distilled student -> rain pairs", allow_abbrev=False)
    transfer.add_argument("config", help="transfer YAML (pipelines/transfer-tiny.yaml)")
    transfer.add_argument("--out", help="run folder (replaces `out`)")
    imported = modes.add_parser("import", help="convert an official DyNet checkpoint "
                                "(Lightning, weights read with weights_only=True)",
                                allow_abbrev=False)
    imported.add_argument("ckpt", metavar="CKPT", help="the official release file (.ckpt)")
    imported.add_argument("--out", required=True, metavar="FILE.pt",
                          help="the irdata checkpoint to write")
    train.set_defaults(handler=_cmd_train)

    evaluate = commands.add_parser("eval", help="PSNR / SSIM of a checkpoint",
                                   allow_abbrev=False)
    _model_options(evaluate)
    evaluate.add_argument("--pairs", help="a pairs folder (rainy/ + norain/, hazy/ + clear/, "
                          "lq/ + gt/, ...)")
    evaluate.add_argument("--clean", help="a folder of clean images (with --noise-sigma)")
    evaluate.add_argument("--noise-sigma", type=_sigma, help="Gaussian noise sigma (0-255)")
    evaluate.add_argument("--per-image", action="store_true", help="also print every image")
    evaluate.add_argument("--json", help="write the results to this JSON file")
    evaluate.set_defaults(handler=_cmd_eval)

    restore = commands.add_parser("restore", help="restore an image or a folder",
                                  allow_abbrev=False)
    _model_options(restore)
    restore.add_argument("input", metavar="IN", help="an image file or a folder of images")
    restore.add_argument("output", metavar="OUT", help="output image (.png, .jpg, .tif, ...) "
                         "or folder")
    restore.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels")
    restore.set_defaults(handler=_cmd_restore)


def _cmd_train(args) -> int:
    from irdata.train import loop, settings
    from irdata.train.data import feed

    if args.mode is None:
        raise UsageError("irdata train: a mode is required: pretrain, finetune, supervised, "
                         "distill, transfer or import")
    if args.mode == "import":
        return _cmd_import(args)
    if args.mode == "transfer":
        return _cmd_transfer(args)
    config = settings.load(args.config, args.mode)
    settings.apply_overrides(config, args.shards, args.out, args.steps,
                             getattr(args, "init", None))
    settings.finalize(config, args.config)
    try:
        feed.task_urls(config)
    except ValueError as exc:
        raise UsageError(f"{args.config}: {exc}") from None
    result = loop.train(config, resume=args.resume)
    if result["rank"] == 0:
        print(f"irdata: trained to step {result['step']}; checkpoints in "
              f"{config['out']}/checkpoints/", file=sys.stderr)
    return 0


def _cmd_transfer(args) -> int:
    from irdata.train import transfer

    final = transfer.run(args.config, args.out,
                         report=lambda line: print(line, file=sys.stderr))
    print(f"irdata: transfer done; the student fine-tuned on rain: {final}", file=sys.stderr)
    return 0


def _cmd_import(args) -> int:
    from irdata.train.checkpoint import save_imported
    from irdata.train.official import import_checkpoint

    model, summary = import_checkpoint(args.ckpt)
    save_imported(args.out, model, summary)
    dropped = ", ".join(summary["dropped"]) or "none"
    print(f"irdata: imported {summary['tensors']} tensors ({summary['parameters']:,} "
          f"parameters, epoch {summary['epoch']}) -> {args.out}; dropped, never called by "
          f"the official forward: {dropped}", file=sys.stderr)
    return 0


def _device(name: str | None):
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device: unknown device {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device: CUDA is not available on this machine")
    return device


def _load(args):
    from irdata.train.checkpoint import load_model

    device = _device(args.device)
    model, _ = load_model(args.checkpoint, device)
    return model, device


def _cmd_eval(args) -> int:
    from irdata.train.eval.evaluate import evaluate, table

    if bool(args.pairs) == bool(args.clean):
        raise UsageError("irdata eval: give --pairs DIR, or --clean DIR with --noise-sigma")
    if args.clean and args.noise_sigma is None:
        raise UsageError("irdata eval: --clean needs --noise-sigma")
    model, device = _load(args)
    result = evaluate(model, args.variant, args.pairs, args.clean, args.noise_sigma,
                      args.tile, device)
    result.update(checkpoint=args.checkpoint, variant=args.variant)
    print(table(result, args.per_image))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return 0


def _cmd_restore(args) -> int:
    from irdata.train.eval.restore import restore_path

    if args.overlap < 0 or args.tile <= 2 * args.overlap:
        raise UsageError(f"--tile ({args.tile}) must exceed twice --overlap ({args.overlap})")
    model, device = _load(args)
    written = restore_path(model, args.input, args.output, args.variant, args.tile,
                           args.overlap, device)
    print(f"irdata: restored {len(written)} image(s) -> {args.output}", file=sys.stderr)
    return 0
