"""Small real PyTorch networks used to prove the ONNX parser and canonical form.

Each builder returns ``(module, example_input)``. The networks cover the structural families
archscore must handle: residual addition, depthwise inverted residuals, attention, dense
concatenation, plain fully connected stacks and recurrent cells, plus a ResNet-50-sized network
for speed measurements. Requires the ``torch`` extra.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.short(x))


class ResNetSmall(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layers = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(self.drop(torch.flatten(x, 1)))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int, act: type[nn.Module]) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), act(),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_res else y


class MobileNetV2Small(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
            InvertedResidual(16, 16, 1, 1, nn.ReLU6),
            InvertedResidual(16, 24, 2, 6, nn.ReLU6),
            InvertedResidual(24, 24, 1, 6, nn.Hardswish),
            InvertedResidual(24, 32, 2, 6, nn.SiLU),
            nn.Conv2d(32, 128, 1, bias=False), nn.BatchNorm2d(128), nn.Hardswish(),
        )  # fmt: skip
        self.fc = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean((2, 3))
        return self.fc(x)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class ViTSmall(nn.Module):
    def __init__(self, img: int = 32, patch: int = 8, dim: int = 64, depth: int = 2, heads: int = 4,
                 num_classes: int = 10) -> None:  # fmt: skip
        super().__init__()
        n = (img // patch) ** 2
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class MixerSmall(nn.Module):
    """An MLP-Mixer: patches mixed by MLPs across tokens and across channels, no attention."""

    def __init__(self, img: int = 32, patch: int = 8, dim: int = 64, depth: int = 2, num_classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, patch)
        self.blocks = nn.Sequential(*[MixerBlock((img // patch) ** 2, dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.embed(x).flatten(2).transpose(1, 2))
        return self.head(self.norm(x).mean(1))


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        return torch.cat([x, y], 1)


class DenseNetSmall(nn.Module):
    def __init__(self, growth: int = 8, num_classes: int = 10) -> None:
        super().__init__()
        c = 2 * growth
        layers: list[nn.Module] = [nn.Conv2d(3, c, 3, 1, 1, bias=False)]
        for stage in range(2):
            for _ in range(3):
                layers.append(DenseLayer(c, growth))
                c += growth
            if stage == 0:
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class MLP(nn.Module):
    def __init__(self, sizes: tuple[int, ...] = (784, 256, 128, 10)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers += [nn.Tanh() if i % 2 else nn.ReLU(), nn.Dropout(0.1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RecurrentNet(nn.Module):
    def __init__(self, vocab_dim: int = 32, hidden: int = 48, num_classes: int = 5) -> None:
        super().__init__()
        self.lstm = nn.LSTM(vocab_dim, hidden, batch_first=True)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x)
        y, _ = self.gru(y)
        return self.fc(y[:, -1])


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.short(x))


class ResNet50(nn.Module):
    """The ResNet-50 topology (25.6 M parameters, 4.1 G MACs at 224×224)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        ]  # fmt: skip
        cin = 64
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for b in range(blocks):
                layers.append(Bottleneck(cin, width, stride if b == 0 else 1))
                cin = width * 4
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


ZOO: dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]] = {
    "resnet": lambda: (ResNetSmall(), torch.randn(1, 3, 32, 32)),
    "mobilenetv2": lambda: (MobileNetV2Small(), torch.randn(1, 3, 32, 32)),
    "vit": lambda: (ViTSmall(), torch.randn(1, 3, 32, 32)),
    "densenet": lambda: (DenseNetSmall(), torch.randn(1, 3, 32, 32)),
    "mlp": lambda: (MLP(), torch.randn(1, 784)),
    "rnn": lambda: (RecurrentNet(), torch.randn(1, 12, 32)),
}

IMAGENET_ZOO: dict[str, Callable[[], tuple[nn.Module, torch.Tensor]]] = {
    "resnet_imagenet": lambda: (ResNetSmall(num_classes=1000), torch.randn(1, 3, 224, 224)),
    "mbconv_imagenet": lambda: (MobileNetV2Small(num_classes=1000), torch.randn(1, 3, 224, 224)),
    "vit_imagenet": lambda: (
        ViTSmall(img=224, patch=16, dim=96, depth=4, num_classes=1000),
        torch.randn(1, 3, 224, 224),
    ),
    "mixer_imagenet": lambda: (
        MixerSmall(img=224, patch=16, dim=96, depth=4, num_classes=1000),
        torch.randn(1, 3, 224, 224),
    ),
    "resnet50": lambda: (ResNet50(), torch.randn(1, 3, 224, 224)),
}
"""Networks with an ImageNet-1K interface (224 px in, 1000 classes out): small ones of each kind, and ResNet-50."""
"""The six reference networks, each as a builder of ``(eval-mode module, example input)``."""

EXPORTS: dict[str, dict] = {
    "legacy": {"dynamo": False},
    "legacy_unfolded": {
        "dynamo": False,
        "do_constant_folding": False,
        "training": torch.onnx.TrainingMode.PRESERVE,
    },
    "legacy_no_params": {"dynamo": False, "export_params": False},
    "legacy_dynamic_batch": {"dynamo": False, "dynamic_axes": {"x": {0: "batch"}}},
    "dynamo": {"dynamo": True},
}
"""Ways of exporting the same module that archscore must see as one architecture."""


def trained_like(module: nn.Module) -> nn.Module:
    """Give ``module`` values as in a trained network, in place: no all-zero parameter (exporters
    drop all-zero biases) and non-trivial BatchNorm statistics (or folded biases would be zero)."""
    with torch.no_grad():
        for p in module.parameters():
            if not p.any():
                p.uniform_(-0.1, 0.1)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return module


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    """Return the eval-mode reference network ``name`` and an example input."""
    torch.manual_seed(0)
    module, x = {**ZOO, **IMAGENET_ZOO}.get(name, IMAGENET_ZOO["resnet50"])()
    trained_like(module)
    return module.eval(), x


def export(module: nn.Module, x: torch.Tensor, how: str = "legacy") -> bytes:
    """Export ``module`` with one of :data:`EXPORTS` and return the ONNX bytes."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = dict(EXPORTS[how])
        if how == "dynamo":
            kwargs["verbose"] = False
            kwargs["report"] = False
        torch.onnx.export(module, (x,), buf, input_names=["x"], output_names=["y"], **kwargs)
    return buf.getvalue()
