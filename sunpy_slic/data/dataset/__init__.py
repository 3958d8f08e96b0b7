"""
Training data: FITS files (or arrays) per feature, turned into an on-disk store and torch Datasets.

`prepare_dataset` reads ``root/<feature>/**/*.fits`` (also ``.fits.gz``, ``.fts``, ``.fit``; files
with or without a world coordinate system), `prepare_arrays` takes images and labels in memory;
both apply the very same `~sunpy_slic.preprocessing.preprocess` that classification uses and write a
store folder that `open_store` reopens::

    out/
      images.npy     float16, shape (N, 1, S, S): the preprocessed images (read memory-mapped)
      labels.npy     int64, shape (N,): label ids 0..4 in the order of `~sunpy_slic.features.FEATURES`
      meta.ecsv      one row per image: path, feature, label, date_obs, instrument, wavelength,
                     group, split (an `astropy.table.Table`; unknown values are masked or NaN)
      spec.json      the `~sunpy_slic.preprocessing.PreprocessSpec` the images were made with
      report.json    counts per class and split, the skipped inputs with the reason, input warnings
      manifest.json  written last: the store is complete only when it exists

Every file is written atomically (a temporary name in ``out/``, then `os.replace`). While a run is
going, the preprocessed images are kept in ``out/chunks/part-XXXX.npz`` (one per ``chunk_size``
inputs, each written atomically), so a run that is killed resumes where it stopped when it is
started again with the same arguments; the chunks are removed once the store is complete.

Splitting into training and validation frames is leakage-safe by default: frames taken in one
time sequence (consecutive frames less than ``gap`` apart, see `time_groups`) are nearly identical,
so whole sequences go to one side (`split_groups`). A frame-level random split (`random_split`, what
the original Slic did by taking every 10th time-sorted frame) puts near-identical neighbours on both
sides and overestimates the validation accuracy of time-series data.

`SlicDataset` serves ``(image, label)`` pairs from a store to a `torch.utils.data.DataLoader`, with
optional, reproducible data augmentation (`Augmentation`).

The code is in private modules by idea: ``_store`` (the store format), ``_reading`` (one FITS
file, with or without WCS), ``_prepare`` (finding files, resumable preprocessing, assembling),
``_arrays`` (`prepare_arrays`), ``_splits`` (time sequences and splits) and ``_torchdata``
(`DatasetStore` and the torch datasets).
"""

from sunpy_slic.data.dataset._arrays import prepare_arrays
from sunpy_slic.data.dataset._prepare import FITS_SUFFIXES, prepare_dataset
from sunpy_slic.data.dataset._splits import random_split, split_groups, time_groups
from sunpy_slic.data.dataset._store import FORMAT
from sunpy_slic.data.dataset._torchdata import Augmentation, DatasetStore, SlicDataset, as_dataset, open_store

__all__ = [
    "FITS_SUFFIXES",
    "FORMAT",
    "Augmentation",
    "DatasetStore",
    "SlicDataset",
    "as_dataset",
    "open_store",
    "prepare_arrays",
    "prepare_dataset",
    "random_split",
    "split_groups",
    "time_groups",
]
