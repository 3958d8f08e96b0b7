"""
Torch data: `DatasetStore` (a store with its training and validation datasets), `SlicDataset` of
``(image, label)`` pairs with reproducible `Augmentation`, and `as_dataset` for evaluation.
"""

import math
import operator
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sunpy_slic.data.dataset._store import IMAGES, SPLITS, check_which, read_store
from sunpy_slic.validation import check_seed

__all__ = ["Augmentation", "DatasetStore", "SlicDataset", "as_dataset", "open_store"]


# ----------------------------------------------------------------------------------------------
# The store
# ----------------------------------------------------------------------------------------------
class DatasetStore:
    """
    A complete dataset store written by `prepare_dataset` (open one with `open_store`).

    Attributes
    ----------
    path : `pathlib.Path`
        The store folder.
    images : `numpy.memmap`
        float16 images, shape ``(N, 1, S, S)``, read-only and memory-mapped.
    labels : `numpy.ndarray`
        int64 label ids, shape ``(N,)``.
    table : `~astropy.table.Table`
        Per image: ``path, feature, label, date_obs, instrument, wavelength, group, split``.
    spec : `~sunpy_slic.preprocessing.PreprocessSpec`
        The preprocessing the images were made with.
    report : dict
        Counts per class and split, skipped inputs with reasons, per-input warnings.
    manifest : dict
        The settings the store was made with.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sunpy_slic.data.dataset import prepare_arrays
    >>> images = np.random.default_rng(0).normal(1000, 50, (4, 64, 64))
    >>> store = prepare_arrays(images, [0, 0, 4, 4], tempfile.mkdtemp(), image_size=32, progress=False)
    >>> store  # doctest: +ELLIPSIS
    <DatasetStore ...: 4 images of 32x32, train 2, val 2 (split='time')>
    >>> store.indices("val").tolist(), store.split.tolist()
    ([0, 2], ['val', 'train', 'val', 'train'])
    >>> len(store.subset("train")), store.subset("train").augmentation is not None
    (2, True)
    """

    def __init__(self, path):
        store = read_store(path)
        self.path = store["path"]
        self.manifest = store["manifest"]
        self.images = store["images"]
        self.labels = store["labels"]
        self.table = store["table"]
        self.spec = store["spec"]
        self.report = store["report"]

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        counts = {s: int(np.sum(self.split == s)) for s in SPLITS}
        size = self.spec.image_size
        return (
            f"<DatasetStore {self.path}: {len(self)} images of {size}x{size}, "
            f"train {counts['train']}, val {counts['val']} (split={self.manifest['split']['method']!r})>"
        )

    @property
    def split(self):
        """``"train"`` or ``"val"`` per image."""
        return np.asarray(self.table["split"]).astype(str)

    def indices(self, which="all"):
        """
        Return the row indices of the ``"train"`` or ``"val"`` frames, or of ``"all"``.
        """
        which = check_which(which)
        if which == "all":
            return np.arange(len(self))
        return np.flatnonzero(self.split == which)

    def subset(self, which="train", *, augment=None, seed=0):
        """
        Return a `SlicDataset` of the training or validation frames (or ``"all"``).

        Parameters
        ----------
        which : {"train", "val", "all"}
            The frames.
        augment : bool or `Augmentation`, optional
            Data augmentation; by default on for ``"train"`` and off otherwise. Validation frames
            are never augmented (asking for it is an error).
        seed : int, optional
            Seed of the augmentation.

        Returns
        -------
        `SlicDataset`
        """
        which = check_which(which)
        if augment is None:
            augment = which == "train"
        if which == "val" and augment:
            msg = "validation frames are not augmented; use augment=False for subset('val')"
            raise ValueError(msg)
        return SlicDataset(self, indices=self.indices(which), augment=augment, seed=seed)


def open_store(path):
    """
    Open a complete dataset store written by `prepare_dataset`.

    Parameters
    ----------
    path : str or `os.PathLike`
        The store folder.

    Returns
    -------
    `DatasetStore`

    Raises
    ------
    FileNotFoundError
        If there is no such folder.
    ValueError
        If the store is incomplete (``manifest.json`` missing: the run that made it did not finish)
        or inconsistent.

    Examples
    --------
    >>> import tempfile
    >>> from sunpy_slic.data.dataset import open_store
    >>> open_store(tempfile.mkdtemp())  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: ... is not a complete dataset store ...
    """
    return DatasetStore(path)


# ----------------------------------------------------------------------------------------------
# Torch dataset and augmentation
# ----------------------------------------------------------------------------------------------
def _standardise(x):
    mean = x.mean()
    std = x.std(unbiased=False)
    return (x - mean) / std if std > 0 else x - mean


@dataclass(frozen=True)
class Augmentation:
    """
    Physically valid, random changes of a preprocessed image, for training.

    Solar features have no preferred orientation in a cut-out and are seen with varying contrast
    and noise, so the image is flipped, turned by multiples of 90°, rotated by a small angle
    (reflection padding), given a gamma (contrast) change and Gaussian noise, and finally
    re-standardised to mean 0 and standard deviation 1, as `~sunpy_slic.preprocessing.preprocess`
    output is. (A linear contrast change would be undone by the standardisation, and the
    preprocessing is insensitive to one anyway, so none is applied.)

    Parameters
    ----------
    flip : bool
        Flip left-right and up-down, each with probability 1/2.
    rot90 : bool
        Turn by 0, 90, 180 or 270 degrees.
    max_rotation : float
        Largest extra rotation in degrees (uniform in ±``max_rotation``).
    gamma : tuple of float
        Range of the gamma applied to the image rescaled to [0, 1] (log-uniform); ``(1, 1)`` for none.
    noise : float
        Largest standard deviation of the added Gaussian noise, in units of the image's standard
        deviation (uniform in 0..``noise``).

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic.data.dataset import Augmentation
    >>> x = torch.randn(1, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> y = Augmentation()(x, torch.Generator().manual_seed(1))
    >>> y.shape, round(float(y.mean()), 4), round(float(y.std(unbiased=False)), 4)
    (torch.Size([1, 32, 32]), 0.0, 1.0)
    """

    flip: bool = True
    rot90: bool = True
    max_rotation: float = 5.0
    gamma: tuple = (0.8, 1.25)
    noise: float = 0.05

    def __post_init__(self):
        lo, hi = self.gamma
        if not 0 < lo <= hi:
            msg = f"gamma must be a range (low, high) with 0 < low <= high, got {self.gamma!r}"
            raise ValueError(msg)
        if self.max_rotation < 0 or self.noise < 0:
            msg = f"max_rotation and noise must be >= 0, got {self.max_rotation} and {self.noise}"
            raise ValueError(msg)
        object.__setattr__(self, "gamma", (float(lo), float(hi)))

    def __call__(self, x, generator):
        """
        Augment one image.

        Parameters
        ----------
        x : `torch.Tensor`
            float32, shape ``(C, H, W)``.
        generator : `torch.Generator`
            The source of randomness (the same generator state gives the same result).

        Returns
        -------
        `torch.Tensor`
            float32, the same shape (for square images), mean 0 and standard deviation 1.
        """
        # Always draw the same numbers in the same order, whatever is switched off.
        r = torch.rand(6, generator=generator, dtype=torch.float64).tolist()
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        if self.flip and r[0] < 0.5:
            x = torch.flip(x, dims=(-1,))
        if self.flip and r[1] < 0.5:
            x = torch.flip(x, dims=(-2,))
        if self.rot90:
            x = torch.rot90(x, int(r[2] * 4) % 4, dims=(-2, -1))
        angle = math.radians((2 * r[3] - 1) * self.max_rotation)
        if angle != 0:
            c, s = math.cos(angle), math.sin(angle)
            theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]], dtype=x.dtype)
            grid = F.affine_grid(theta, (1, *x.shape), align_corners=False)
            x = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
            x = x[0]
        lo, hi = self.gamma
        if hi > lo:
            g = math.exp(math.log(lo) + r[4] * (math.log(hi) - math.log(lo)))
            vmin, vmax = x.min(), x.max()
            if vmax > vmin:
                x = ((x - vmin) / (vmax - vmin)) ** g
        x = _standardise(x)
        if self.noise > 0:
            x = _standardise(x + (r[5] * self.noise) * noise)
        return x.contiguous()


class SlicDataset(Dataset):
    """
    ``(image, label)`` pairs for training and evaluation, from a `DatasetStore` or from arrays.

    Items are ``(float32 tensor of shape (1, S, S), int label)``. With ``augment`` each item is
    changed by an `Augmentation` drawn from a generator seeded by ``(seed, epoch, index)`` (the
    index into the underlying store or arrays), so training is reproducible whatever the DataLoader
    order and number of workers; call `set_epoch` at the start of each epoch to get new changes.
    (With ``persistent_workers=True`` the workers keep their copy of the epoch; leave it off.)

    The dataset pickles without its images when they come from a store or a ``.npy`` path: each
    DataLoader worker re-opens the memory map itself.

    Parameters
    ----------
    images : `DatasetStore`, array of shape (N, 1, S, S) or (N, S, S), or path of a ``.npy`` file
        The images; a store brings its labels and spec.
    labels : array-like of int, optional
        Label per image (not with a store).
    indices : array-like of int, optional
        The rows of ``images`` to serve (default: all).
    augment : bool or `Augmentation`, optional
        Data augmentation (``True`` for the default `Augmentation`).
    seed : int, optional
        Seed of the augmentation.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.dataset import SlicDataset
    >>> images = np.random.default_rng(0).normal(size=(4, 1, 32, 32)).astype(np.float16)
    >>> ds = SlicDataset(images, [0, 1, 2, 3], augment=True, seed=0)
    >>> x, y = ds[1]
    >>> x.shape, x.dtype, y
    (torch.Size([1, 32, 32]), torch.float32, 1)
    >>> bool((ds[1][0] == x).all())  # the same (seed, epoch, index): the same augmentation
    True
    >>> ds.set_epoch(1)
    >>> bool((ds[1][0] == x).all())
    False
    """

    def __init__(self, images, labels=None, *, indices=None, augment=False, seed=0):
        self.spec = None
        self._path = None
        if isinstance(images, DatasetStore):
            if labels is not None:
                msg = "labels are taken from the DatasetStore; do not pass them too"
                raise TypeError(msg)
            labels = images.labels
            self.spec = images.spec
            images = images.path / IMAGES
        if isinstance(images, str | os.PathLike):
            self._path = str(images)
            images = np.load(self._path, mmap_mode="r")
        elif isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        elif not isinstance(images, np.ndarray):
            msg = f"images must be a DatasetStore, an array or a .npy path, got {type(images).__name__}"
            raise TypeError(msg)
        if not (images.ndim == 3 or (images.ndim == 4 and images.shape[1] == 1)):
            msg = f"images must have shape (N, 1, S, S) or (N, S, S), got {images.shape}"
            raise ValueError(msg)
        if labels is None:
            msg = "labels are needed (one per image) unless images is a DatasetStore"
            raise TypeError(msg)
        labels = np.asarray(labels)
        if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
            msg = f"labels must be {images.shape[0]} integers, got {labels.dtype} of shape {labels.shape}"
            raise ValueError(msg)
        self._labels = labels.astype(np.int64)
        self._images = images
        n = images.shape[0]
        if indices is None:
            indices = np.arange(n)
        indices = np.asarray(indices)
        bad = indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu")
        if bad or (indices.size and (indices.min() < 0 or indices.max() >= n)):
            msg = f"indices must be a 1-D array of integers in 0..{n - 1}"
            raise ValueError(msg)
        self.indices = indices.astype(np.int64)
        if augment is True:
            augment = Augmentation()
        elif augment is False or augment is None:
            augment = None
        elif not isinstance(augment, Augmentation):
            msg = f"augment must be a bool or an Augmentation, got {type(augment).__name__}"
            raise TypeError(msg)
        self.augmentation = augment
        self.seed = check_seed(seed)
        self.epoch = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        if self._path is not None:
            state["_images"] = None  # re-opened lazily (memory-mapped) in the process that unpickles
        return state

    def _array(self):
        if self._images is None:
            self._images = np.load(self._path, mmap_mode="r")
        return self._images

    @property
    def labels(self):
        """int64 label of each item."""
        return self._labels[self.indices]

    def set_epoch(self, epoch):
        """Set the epoch, which (with the seed and the index) seeds each item's augmentation."""
        self.epoch = check_seed(epoch, "epoch")

    def __len__(self):
        return len(self.indices)

    def __repr__(self):
        aug = "no augmentation" if self.augmentation is None else f"{self.augmentation}, seed={self.seed}"
        return f"<SlicDataset: {len(self)} images, {aug}>"

    def _generator(self, index):
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed((int(state[0]) << 31) ^ int(state[1]))

    def __getitem__(self, i):
        n = len(self.indices)
        try:
            i = operator.index(i)
        except TypeError:
            msg = f"SlicDataset indices must be integers, got {type(i).__name__}"
            raise TypeError(msg) from None
        if not -n <= i < n:
            msg = f"index {i} is out of range for a dataset of {n} images"
            raise IndexError(msg)
        j = int(self.indices[i])
        x = torch.from_numpy(np.array(self._array()[j], dtype=np.float32))
        if x.ndim == 2:
            x = x[None]
        if self.augmentation is not None:
            x = self.augmentation(x, self._generator(j))
        return x, int(self._labels[j])


def as_dataset(data, which="val"):
    """
    Return a torch Dataset of ``(image, label)`` for evaluation from a store, a store path or a Dataset.

    Parameters
    ----------
    data : `DatasetStore`, str, `os.PathLike` or `torch.utils.data.Dataset`
        A Dataset is returned unchanged.
    which : {"train", "val", "all"}
        The split of a store to use, without augmentation; all of the store when that split is empty.

    Returns
    -------
    `torch.utils.data.Dataset`

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.dataset import SlicDataset, as_dataset
    >>> data = SlicDataset(np.zeros((2, 1, 32, 32), np.float16), [0, 4])
    >>> as_dataset(data) is data
    True
    >>> as_dataset(None)
    Traceback (most recent call last):
    ...
    TypeError: expected a DatasetStore, a store path or a torch Dataset, got NoneType
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str | os.PathLike):
        data = open_store(data)
    if not isinstance(data, DatasetStore):
        msg = f"expected a DatasetStore, a store path or a torch Dataset, got {type(data).__name__}"
        raise TypeError(msg)
    sub = data.subset(which, augment=False)
    return sub if len(sub) else data.subset("all", augment=False)
