"""Evaluation and use of a trained model: PSNR / SSIM, tiled restoration, `irdata eval`."""
