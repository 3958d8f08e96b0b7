"""
SlicNet: the VGG-13 convolutional network of Slic, done right.

The original Slic code re-used one layer's weights in the fifth block; here every one of the ten
3×3 convolutions has its own weights, as in VGG-13 (Simonyan & Zisserman 2015, configuration B).
"""

import numbers

import torch
from torch import nn

from sunpy_slic.features import FEATURES

__all__ = ["VGG13_LAYERS", "SlicNet"]

#: Output channels of each 3×3 Conv-BatchNorm-ReLU layer; "M" is a 2×2 max-pool.
VGG13_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")

_HEADS = ("paper", "compact")
_NUM_FEATURES = len(FEATURES)


class SlicNet(nn.Module):
    """
    VGG-13 with batch normalisation, one input channel and a five-feature classifier.

    Parameters
    ----------
    head : {"compact", "paper"}
        ``"paper"``: flatten 512·8·8 → 4096 → 4096 → classes with dropout, as in Armstrong & Fletcher
        (2019); needs 256×256 input. ``"compact"``: global average pooling → dropout → classes; any
        input size of at least 32 pixels, and ~10× fewer parameters.
    image_size : int
        The input size the model is meant for (recorded in the weights; the paper head needs 256).
    num_classes : int
        Number of output logits (the five `~sunpy_slic.FEATURES`).
    dropout : float
        Dropout probability in the head.

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic.model import SlicNet
    >>> model = SlicNet(head="compact", image_size=64).eval()
    >>> model(torch.zeros(2, 1, 64, 64)).shape
    torch.Size([2, 5])
    """

    def __init__(self, head="compact", image_size=256, num_classes=_NUM_FEATURES, dropout=0.5):
        super().__init__()
        if head not in _HEADS:
            msg = f"head must be one of {_HEADS}, got {head!r}"
            raise ValueError(msg)
        for name, value in (("image_size", image_size), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                msg = f"{name} must be an integer, got {type(value).__name__} ({value!r})"
                raise TypeError(msg)
        if head == "paper" and image_size != 256:
            msg = f'head="paper" flattens 512x8x8 features and needs image_size=256, got {image_size}'
            raise ValueError(msg)
        if image_size < 32:
            msg = f"image_size must be at least 32 (five 2x2 max-pools), got {image_size}"
            raise ValueError(msg)
        if num_classes < 2:
            msg = f"num_classes must be at least 2, got {num_classes}"
            raise ValueError(msg)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            msg = f"dropout must be a probability in [0, 1), got {dropout!r}"
            raise ValueError(msg)
        self.head = head
        self.image_size = int(image_size)
        self.num_classes = int(num_classes)
        self.dropout = float(dropout)
        #: The `~sunpy_slic.weights.WeightsMetadata` of the file the model was loaded from (set by
        #: `~sunpy_slic.weights.load_model`); None for a model built here.
        self.slic_meta = None

        layers, channels = [], 1
        for v in VGG13_LAYERS:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [
                    nn.Conv2d(channels, v, kernel_size=3, padding=1),
                    nn.BatchNorm2d(v),
                    nn.ReLU(inplace=True),
                ]
                channels = v
        self.features = nn.Sequential(*layers)
        if head == "paper":
            self.avgpool = nn.Identity()
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(512 * 8 * 8, 4096),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(4096, 4096),
                nn.ReLU(inplace=True),
                nn.Dropout(p=dropout),
                nn.Linear(4096, num_classes),
            )
        else:
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(p=dropout), nn.Linear(512, num_classes))
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    @property
    def config(self):
        """The constructor arguments, as stored in weights files."""
        return {
            "architecture": "vgg13_bn",
            "head": self.head,
            "image_size": self.image_size,
            "num_classes": self.num_classes,
            "dropout": self.dropout,
        }

    def check_input(self, x, *, head=True):
        """Check an input batch; return it in the parameters' dtype where no autocast does that."""
        if not isinstance(x, torch.Tensor):
            msg = f"SlicNet expects a torch.Tensor of shape (N, 1, H, W), got {type(x).__name__}"
            raise TypeError(msg)
        if not x.is_floating_point():
            msg = (
                f"SlicNet expects a floating-point tensor (preprocessed images), got {x.dtype}; "
                "use sunpy_slic.preprocessing.preprocess to make one"
            )
            raise TypeError(msg)
        if x.ndim != 4 or x.shape[1] != 1:
            msg = f"SlicNet expects input of shape (N, 1, H, W), got {tuple(x.shape)}"
            raise ValueError(msg)
        h, w = x.shape[-2:]
        if head and self.head == "paper" and (h, w) != (256, 256):
            msg = f'the "paper" head needs 256x256 input, got {h}x{w}; use head="compact" for other sizes'
            raise ValueError(msg)
        if min(h, w) < 32:
            msg = f"SlicNet needs images of at least 32x32 pixels, got {h}x{w}"
            raise ValueError(msg)
        weight = self.features[0].weight
        if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
            x = x.to(weight.dtype)  # e.g. float64 images for a float32 model
        return x

    def forward(self, x):
        """Return the logits, shape ``(N, num_classes)``, for an ``(N, 1, H, W)`` batch."""
        x = self.check_input(x)
        return self.classifier(self.avgpool(self.features(x)))

    def forward_with_embedding(self, x):
        """Return ``(logits, embedding)``: the logits and the pooled 512-d features they come from."""
        f = self.features(self.check_input(x))
        embedding = torch.flatten(nn.functional.adaptive_avg_pool2d(f, 1), 1)
        return self.classifier(self.avgpool(f)), embedding

    def embed(self, x):
        """Return the pooled 512-d features before the classifier (for out-of-distribution scores)."""
        f = self.features(self.check_input(x, head=False))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(f, 1), 1)
