"""ShuffleNetV2 and the write-up's variants.

- ``shufflenet_v2_x0_5`` / ``shufflenet_v2_x1_0``: the reference network (Ma et al., 2018).
- ``liteconv`` (the default): 1.0x with the first 1x1 convolution of every block's branch2 removed.
- ``csp``: liteconv blocks arranged as cross-stage-partial stages (half the channels bypass each
  stage); the write-up tried it and rejected it for its accuracy. Kept so the ablation can be rerun.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

STAGE_REPEATS = (4, 8, 4)
WIDTHS = {0.5: (24, 48, 96, 192, 1024), 1.0: (24, 116, 232, 464, 1024)}


def channel_shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def conv_bn(inp: int, out: int, k: int = 1, stride: int = 1, groups: int = 1, relu: bool = True):
    layers: list[nn.Module] = [
        nn.Conv2d(inp, out, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    """A ShuffleNetV2 unit; ``lite=True`` drops branch2's first 1x1 convolution."""

    def __init__(self, inp: int, out: int, stride: int, lite: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, not {stride}")
        self.stride = stride
        half = out // 2
        if stride == 1 and inp != out:
            raise ValueError("a stride-1 unit keeps its channel count")
        if stride == 2:
            self.branch1 = nn.Sequential(
                *conv_bn(inp, inp, 3, 2, groups=inp, relu=False), *conv_bn(inp, half)
            )
        else:
            self.branch1 = nn.Sequential()
        b2_in = inp if stride == 2 else half
        if lite:
            layers = [*conv_bn(b2_in, b2_in, 3, stride, groups=b2_in, relu=False)]
            layers += conv_bn(b2_in, half)
        else:
            layers = [*conv_bn(b2_in, half)]
            layers += conv_bn(half, half, 3, stride, groups=half, relu=False)
            layers += conv_bn(half, half)
        self.branch2 = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class CSPStage(nn.Module):
    """Downsample, then half the channels run through the stage's units and half bypass them."""

    def __init__(self, inp: int, out: int, repeats: int, lite: bool = True):
        super().__init__()
        self.down = InvertedResidual(inp, out, 2, lite)
        half = out // 2
        self.blocks = nn.Sequential(
            *[InvertedResidual(half, half, 1, lite) for _ in range(repeats - 1)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        a, b = x.chunk(2, dim=1)
        return channel_shuffle(torch.cat((self.blocks(a), b), dim=1), 2)


class ShuffleNetV2(nn.Module):
    def __init__(
        self,
        num_classes: int = 4,
        width: float = 1.0,
        lite: bool = False,
        csp: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {sorted(WIDTHS)}, not {width}")
        chans = WIDTHS[width]
        self.conv1 = nn.Sequential(*conv_bn(3, chans[0], 3, 2))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages: list[nn.Module] = []
        inp = chans[0]
        for repeats, out in zip(STAGE_REPEATS, chans[1:4], strict=True):
            if csp:
                stages.append(CSPStage(inp, out, repeats, lite))
            else:
                units = [InvertedResidual(inp, out, 2, lite)]
                units += [InvertedResidual(out, out, 1, lite) for _ in range(repeats - 1)]
                stages.append(nn.Sequential(*units))
            inp = out
        self.stage2, self.stage3, self.stage4 = stages
        self.conv5 = nn.Sequential(*conv_bn(inp, chans[4]))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(chans[4], num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        return self.conv5(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))


MODELS: dict[str, Callable[..., ShuffleNetV2]] = {
    "liteconv": lambda **kw: ShuffleNetV2(width=1.0, lite=True, **kw),
    "shufflenet_v2_x1_0": lambda **kw: ShuffleNetV2(width=1.0, **kw),
    "shufflenet_v2_x0_5": lambda **kw: ShuffleNetV2(width=0.5, **kw),
    "csp": lambda **kw: ShuffleNetV2(width=1.0, lite=True, csp=True, **kw),
}
DEFAULT_MODEL = "liteconv"


def build_model(name: str = DEFAULT_MODEL, num_classes: int = 4, **kwargs) -> ShuffleNetV2:
    """A fresh network by name (see ``MODELS``)."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}") from None
    return factory(num_classes=num_classes, **kwargs)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_size: tuple[int, int] = (224, 224)) -> int:
    """Multiply-accumulates of one forward pass (convolutions and linear layers)."""
    total = 0

    def conv_hook(m: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, *input_size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return total
