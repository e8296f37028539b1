"""DyNet pre-training and fine-tuning on the build's shards: `models/` (DyNet, RED-Net),
`data/` (deterministic streams of (lq, gt) batches), `loop.py` (with `optim`, `checkpoint`,
`distributed`, `logs`), `eval/` (PSNR / SSIM, tiled restoration), `settings.py` (the
training YAML). Importing this package imports nothing."""
