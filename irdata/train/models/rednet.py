"""RED-Net (Mao et al., "Image Restoration Using Very Deep Convolutional Encoder-Decoder
Networks with Symmetric Skip Connections", NeurIPS 2016): depth/2 3x3 convs then depth/2
3x3 deconvs, `features` wide, ReLU, stride 1 (any H x W). Conv output k (k even) is added to
deconv output depth/2 - k before its ReLU; the input is added at the end (net(x) + x)."""

from __future__ import annotations

import torch
from torch import nn


class REDNet(nn.Module):
    """Symmetric conv/deconv network with skips every two layers; see the module doc."""

    def __init__(self, depth: int = 30, features: int = 64, channels: int = 3):
        super().__init__()
        if depth < 4 or depth % 2:
            raise ValueError(f"RED-Net depth must be even and >= 4, got {depth}")
        self.config = {"depth": depth, "features": features, "channels": channels}
        half = depth // 2
        self.convs = nn.ModuleList(
            [nn.Conv2d(channels if i == 0 else features, features, 3, padding=1)
             for i in range(half)])
        self.deconvs = nn.ModuleList(
            [nn.ConvTranspose2d(features, channels if j == half - 1 else features, 3, padding=1)
             for j in range(half)])
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = len(self.convs)
        skips = {}
        y = x
        for k, conv in enumerate(self.convs, start=1):
            y = self.relu(conv(y))
            if k % 2 == 0 and k < half:
                skips[half - k] = y
        for j, deconv in enumerate(self.deconvs, start=1):
            y = deconv(y)
            if j in skips:
                y = y + skips[j]
            if j < half:
                y = self.relu(y)
        return y + x
