"""DyNet pre-training and fine-tuning on the build's shards.

- `models/`: DyNet and RED-Net over shared Restormer / PromptIR blocks; models by name.
- `data/`: shard specs, deterministic streams of (lq, gt) batches, one maker per task.
- `loop.py` (with `optim`, `checkpoint`, `distributed`, `logs`): the training loop.
- `eval/`: PSNR / SSIM, tiled restoration.
- `settings.py`: the training YAML.

Importing this package imports nothing.
"""
