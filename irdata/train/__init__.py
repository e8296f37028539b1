"""Training package: restoration models over shared blocks.

- `irdata.train.blocks`: Restormer blocks (LayerNorm, MDTA, GDFN, TransformerBlock,
  patch embedding, pixel-(un)shuffle resampling) and PromptIR-style prompt
  generation / interaction.
- `irdata.train.dynet`: `DyNet` (one weight-shared Transformer block per level;
  `forward(x, variant="L" | "S" | [f1, f2, f3, f4])`), `dynet_config`, `pad_to_multiple`.
- `irdata.train.rednet`: `REDNet`, the RED-Net conv/deconv baseline.

Importing this package imports nothing; the model modules need only torch.
"""
