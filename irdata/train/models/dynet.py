"""DyNet (Dudhane et al., "Dynamic Pre-training: Towards Efficient and Scalable All-in-One
Image Restoration", arXiv 2404.02154): one set of weights, two networks.

A 4-level Restormer encoder-decoder (`CONFIGS["paper"]`) with a global residual. Each level
has ONE encoder and ONE decoder `TransformerBlock`, applied f times in a row; the variant picks
f per level (DyNet-L [4, 6, 6, 8], DyNet-S [2, 3, 3, 4], or four numbers), the decoder reusing
f3, f2, f1, so one state_dict serves both. The refinement blocks are separate and run once, as
in the authors' released code (whose three unused 1x1 convs are left out). PromptIR prompts
(PGM + PIM) sit on the latent and the level-3 and level-2 skips, not on the decoder side;
their components match 128 px crops and are resized for others. Any H x W: `forward` pads to
a multiple of 8 and crops back. `DyNet(**model.config)` rebuilds a model; `DyNet.tiny()` is
a small one for tests and demos.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from irdata.train.models.blocks import (
    Downsample,
    OverlapPatchEmbed,
    PromptBlock,
    TransformerBlock,
    Upsample,
)

CONFIGS = {
    "paper": {"in_channels": 3, "out_channels": 3, "dim": 48, "heads": [1, 2, 4, 8],
              "ffn_expansion": 2.66, "bias": False, "norm": "WithBias",
              "refinement_blocks": 4, "prompt_dims": [64, 128, 320], "prompt_len": 5,
              "prompt_sizes": [64, 32, 16], "prompt_heads": 4,
              "variants": {"L": [4, 6, 6, 8], "S": [2, 3, 3, 4]}},
    "tiny": {"in_channels": 3, "out_channels": 3, "dim": 8, "heads": [1, 1, 1, 1],
             "ffn_expansion": 2.66, "bias": False, "norm": "WithBias",
             "refinement_blocks": 1, "prompt_dims": [4, 8, 16], "prompt_len": 5,
             "prompt_sizes": [16, 8, 4], "prompt_heads": 1,
             "variants": {"L": [2, 2, 2, 2], "S": [1, 1, 1, 1]}},
}
MULTIPLE = 8  # three 2x downsamplings


def dynet_config(name: str = "paper") -> dict:
    """A copy of a named configuration ("paper" or "tiny"): keyword arguments of DyNet."""
    if name not in CONFIGS:
        raise ValueError(f"unknown DyNet config {name!r}; choose from {sorted(CONFIGS)}")
    return copy.deepcopy(CONFIGS[name])


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """Pad (B, C, H, W) at the bottom and right to multiples of `multiple` (reflect, or
    replicate where too small to reflect); crop back with `[..., :H, :W]`."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def _repeat(block: nn.Module, x: torch.Tensor, times: int) -> torch.Tensor:
    for _ in range(times):
        x = block(x)
    return x


class DyNet(nn.Module):
    """Weight-shared Restormer encoder-decoder with prompts; see the module docstring."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, dim: int = 48,
                 heads: Sequence[int] = (1, 2, 4, 8), ffn_expansion: float = 2.66,
                 bias: bool = False, norm: str = "WithBias", refinement_blocks: int = 4,
                 prompt_dims: Sequence[int] = (64, 128, 320), prompt_len: int = 5,
                 prompt_sizes: Sequence[int] = (64, 32, 16), prompt_heads: int = 4,
                 variants: dict[str, Sequence[int]] | None = None):
        super().__init__()
        if in_channels != out_channels:
            raise ValueError("the global residual needs in_channels == out_channels")
        variants = variants or CONFIGS["paper"]["variants"]
        self.config = {"in_channels": in_channels, "out_channels": out_channels, "dim": dim,
                       "heads": list(heads), "ffn_expansion": ffn_expansion, "bias": bias,
                       "norm": norm, "refinement_blocks": refinement_blocks,
                       "prompt_dims": list(prompt_dims), "prompt_len": prompt_len,
                       "prompt_sizes": list(prompt_sizes), "prompt_heads": prompt_heads,
                       "variants": {k: list(v) for k, v in variants.items()}}
        for name in self.config["variants"]:
            self.repeats(name)  # validate
        c1, c2, c3, c4 = dim, dim * 2, dim * 4, dim * 8
        block = partial(TransformerBlock, expansion=ffn_expansion, bias=bias, norm=norm)
        prompt = partial(PromptBlock, heads=prompt_heads, prompt_len=prompt_len,
                         expansion=ffn_expansion, bias=bias, norm=norm)

        self.patch_embed = OverlapPatchEmbed(in_channels, c1, bias)
        self.encoder1, self.down1 = block(c1, heads[0]), Downsample(c1)
        self.encoder2, self.down2 = block(c2, heads[1]), Downsample(c2)
        self.encoder3, self.down3 = block(c3, heads[2]), Downsample(c3)
        self.latent = block(c4, heads[3])

        self.latent_prompt = prompt(c4, prompt_dims[2], c3, prompt_size=prompt_sizes[2])
        self.skip_prompt3 = prompt(c3, prompt_dims[1], c3, prompt_size=prompt_sizes[1])
        self.skip_prompt2 = prompt(c2, prompt_dims[0], c2, prompt_size=prompt_sizes[0])

        self.up4_3 = Upsample(c3)  # c3 -> c2 channels
        self.fuse3 = nn.Conv2d(c2 + c3, c3, 1, bias=bias)
        self.decoder3 = block(c3, heads[2])
        self.up3_2 = Upsample(c3)  # c3 -> c2
        self.fuse2 = nn.Conv2d(c2 + c2, c2, 1, bias=bias)
        self.decoder2 = block(c2, heads[1])
        self.up2_1 = Upsample(c2)  # c2 -> c1; level 1 decodes concat(c1, c1) = c2
        self.decoder1 = block(c2, heads[0])
        self.refinement = nn.Sequential(*[block(c2, heads[0]) for _ in range(refinement_blocks)])
        self.output = nn.Conv2d(c2, out_channels, 3, padding=1, bias=bias)

    @classmethod
    def from_config(cls, name: str = "paper") -> DyNet:
        return cls(**dynet_config(name))

    @classmethod
    def tiny(cls) -> DyNet:
        return cls.from_config("tiny")

    def repeats(self, variant: str | Sequence[int] = "L") -> tuple[int, int, int, int]:
        """Per-level repeats f for a variant name ("L", "S") or an explicit 4-list."""
        if isinstance(variant, str):
            table = self.config["variants"]
            if variant not in table:
                raise ValueError(f"unknown variant {variant!r}; choose from {sorted(table)} "
                                 "or give four repeats")
            variant = table[variant]
        f = tuple(int(n) for n in variant)
        if len(f) != 4 or min(f) < 1:
            raise ValueError(f"variant needs four repeats >= 1, got {list(variant)}")
        return f

    def forward(self, x: torch.Tensor, variant: str | Sequence[int] = "L") -> torch.Tensor:
        """Restore (B, C, H, W) of any H x W with the given variant; same shape out."""
        f = self.repeats(variant)
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, MULTIPLE)
        return (self._body(x, f) + x)[..., :h, :w]

    def _body(self, x: torch.Tensor, f: tuple[int, int, int, int]) -> torch.Tensor:
        e1 = _repeat(self.encoder1, self.patch_embed(x), f[0])
        e2 = _repeat(self.encoder2, self.down1(e1), f[1])
        e3 = _repeat(self.encoder3, self.down2(e2), f[2])
        z = _repeat(self.latent, self.down3(e3), f[3])

        d3 = torch.cat([self.up4_3(self.latent_prompt(z)), self.skip_prompt3(e3)], dim=1)
        d3 = _repeat(self.decoder3, self.fuse3(d3), f[2])
        d2 = torch.cat([self.up3_2(d3), self.skip_prompt2(e2)], dim=1)
        d2 = _repeat(self.decoder2, self.fuse2(d2), f[1])
        d1 = _repeat(self.decoder1, torch.cat([self.up2_1(d2), e1], dim=1), f[0])
        return self.output(self.refinement(d1))
