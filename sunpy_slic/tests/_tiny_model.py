"""
A small, quickly trained classifier for the calibration and out-of-distribution tests.

Training a whole VGG-13 takes minutes on a 2-core CPU, so the model here is a *linear probe*: a
seeded `~sunpy_slic.model.SlicNet` (32-pixel input) whose convolutional layers keep their random
initialisation (batch-normalisation statistics set on the training images) and whose linear head is
fitted by maximum likelihood (no regularisation) on the pooled features of synthetic images. It is
a real classifier (about 80 % accurate on held-out synthetic images) and, as an unregularised fit
on few images is, over-confident: what temperature scaling is for.

Everything is built once per test session (`tiny_setup` is cached) and kept in memory.
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

from sunpy_slic.data.dataset import SlicDataset
from sunpy_slic.data.synthetic import make_image
from sunpy_slic.features import FEATURES
from sunpy_slic.model import SlicNet
from sunpy_slic.preprocessing import PreprocessSpec, preprocess
from sunpy_slic.weights import WeightsMetadata

SPEC = PreprocessSpec(image_size=32)
SHAPE = (64, 64)


@dataclass
class TinySetup:
    model: SlicNet
    train: SlicDataset
    val: SlicDataset
    test: SlicDataset
    records: list  # map_domain_info-like dicts of the training images


def _render(n, base):
    images, labels, records = [], [], []
    for label, feature in enumerate(FEATURES):
        for i in range(n):
            data, truth = make_image(feature, seed=base + i, shape=SHAPE)
            images.append(data)
            labels.append(label)
            records.append({"instrument": "SYNTHETIC", "wavelength": 6563.0, "plate_scale": truth["scale"]})
    x = preprocess(np.stack(images), SPEC).numpy()
    ds = SlicDataset(x, np.array(labels))
    ds.spec = SPEC
    return ds, records, torch.as_tensor(x), torch.as_tensor(labels)


def _linear_probe(model, x, y):
    """Set the BN statistics on ``x`` and fit the compact head's linear layer by maximum likelihood."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the one pass
    model.train()
    with torch.no_grad():
        z = model.embed(x)  # batch statistics: what the eval-mode network then normalises with
    model.eval()
    mu, sd = z.mean(0), z.std(0) + 1e-6
    w = torch.zeros(len(FEATURES), z.shape[1], requires_grad=True)
    b = torch.zeros(len(FEATURES), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(((z - mu) / sd) @ w.T + b, y)
        loss.backward()
        return loss

    opt.step(closure)
    linear = model.classifier[-1]
    with torch.no_grad():
        linear.weight.copy_(w / sd)
        linear.bias.copy_(b - (w / sd) @ mu)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    return model


@functools.cache
def tiny_setup():
    """The model (no calibration or OOD metadata yet) and its train/val/test synthetic sets."""
    torch.manual_seed(0)
    train, records, x, y = _render(24, 0)
    val, *_ = _render(16, 10_000)
    test, *_ = _render(16, 20_000)
    model = _linear_probe(SlicNet(image_size=32), x, y)
    return TinySetup(model=model, train=train, val=val, test=test, records=records)


def fresh_model(setup):
    """A copy of the tiny model with plain metadata (as if loaded from a file), for one test module."""
    import copy

    model = copy.deepcopy(setup.model)
    model.slic_meta = WeightsMetadata(features=FEATURES, model=model.config, preprocess=SPEC)
    return model.eval()
