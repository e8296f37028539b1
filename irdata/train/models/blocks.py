"""Shared building blocks: Restormer (Zamir et al., CVPR 2022) and PromptIR (Potlapalli et
al., NeurIPS 2023). Restormer: channel `LayerNorm`, `MDTA` (attention across channels, linear
in pixels), `GDFN`, `TransformerBlock`, `OverlapPatchEmbed`, `Downsample` / `Upsample`.
PromptIR: `PromptGen` (PGM), `PromptInteract` (PIM) and the pair, `PromptBlock`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAYERNORM_TYPES = ("WithBias", "BiasFree")


class LayerNorm(nn.Module):
    """LayerNorm over the channels of (B, C, H, W), eps 1e-5; "BiasFree" skips mean and bias."""

    def __init__(self, channels: int, kind: str = "WithBias"):
        super().__init__()
        if kind not in LAYERNORM_TYPES:
            raise ValueError(f"LayerNorm kind must be one of {LAYERNORM_TYPES}, not {kind!r}")
        self.kind = kind
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels)) if kind == "WithBias" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        if self.bias is not None:
            x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias, eps=1e-5)
        else:
            x = x * torch.rsqrt(x.var(-1, keepdim=True, unbiased=False) + 1e-5) * self.weight
        return x.permute(0, 3, 1, 2)


class MDTA(nn.Module):
    """Multi-Dconv head transposed attention: a (C/h x C/h) attention map per head."""

    def __init__(self, channels: int, heads: int, bias: bool = False):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(channels * 3, channels * 3, 3, padding=1,
                                    groups=channels * 3, bias=bias)
        self.project_out = nn.Conv2d(channels, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).reshape(b, 3, self.heads, c // self.heads,
                                                       h * w).unbind(1)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ v).reshape(b, c, h, w))


class GDFN(nn.Module):
    """Gated-Dconv feed-forward: GELU(dwconv branch 1) * dwconv branch 2."""

    def __init__(self, channels: int, expansion: float = 2.66, bias: bool = False):
        super().__init__()
        hidden = int(channels * expansion)
        self.project_in = nn.Conv2d(channels, hidden * 2, 1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, padding=1, groups=hidden * 2,
                                bias=bias)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)


class TransformerBlock(nn.Module):
    """Restormer block: x + MDTA(norm(x)), then x + GDFN(norm(x))."""

    def __init__(self, channels: int, heads: int, expansion: float = 2.66,
                 bias: bool = False, norm: str = "WithBias"):
        super().__init__()
        self.norm1 = LayerNorm(channels, norm)
        self.attn = MDTA(channels, heads, bias)
        self.norm2 = LayerNorm(channels, norm)
        self.ffn = GDFN(channels, expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class OverlapPatchEmbed(nn.Module):
    """3x3 conv from image channels to the embedding width."""

    def __init__(self, in_channels: int = 3, dim: int = 48, bias: bool = False):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Downsample(nn.Module):
    """C x H x W -> 2C x H/2 x W/2: 3x3 conv to C/2, pixel-unshuffle by 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False),
                                  nn.PixelUnshuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """C x H x W -> C/2 x 2H x 2W: 3x3 conv to 2C, pixel-shuffle by 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False),
                                  nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PromptGen(nn.Module):
    """PGM: `prompt_len` learnable prompt_dim x size x size components mixed by softmax(Linear(
    pooled features)), resized bilinearly to the feature map, then a 3x3 conv."""

    def __init__(self, channels: int, prompt_dim: int, prompt_len: int = 5,
                 prompt_size: int = 16):
        super().__init__()
        self.prompt = nn.Parameter(torch.rand(prompt_len, prompt_dim, prompt_size, prompt_size))
        self.linear = nn.Linear(channels, prompt_len)
        self.conv = nn.Conv2d(prompt_dim, prompt_dim, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.linear(x.mean(dim=(-2, -1))).softmax(dim=1)
        prompt = torch.einsum("bl,lchw->bchw", weights, self.prompt)
        prompt = F.interpolate(prompt, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(prompt)


class PromptInteract(nn.Module):
    """PIM: concat(features, prompt) -> Transformer block -> 1x1 conv to `out_channels`."""

    def __init__(self, channels: int, prompt_dim: int, out_channels: int, heads: int,
                 expansion: float = 2.66, bias: bool = False, norm: str = "WithBias"):
        super().__init__()
        self.block = TransformerBlock(channels + prompt_dim, heads, expansion, bias, norm)
        self.reduce = nn.Conv2d(channels + prompt_dim, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.block(torch.cat([x, prompt], dim=1)))


class PromptBlock(nn.Module):
    """PGM then PIM on one feature map: (B, channels, H, W) -> (B, out_channels, H, W)."""

    def __init__(self, channels: int, prompt_dim: int, out_channels: int, heads: int,
                 prompt_len: int = 5, prompt_size: int = 16, expansion: float = 2.66,
                 bias: bool = False, norm: str = "WithBias"):
        super().__init__()
        self.gen = PromptGen(channels, prompt_dim, prompt_len, prompt_size)
        self.interact = PromptInteract(channels, prompt_dim, out_channels, heads,
                                       expansion, bias, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.interact(x, self.gen(x))
