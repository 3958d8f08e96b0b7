"""
Synthetic H-alpha-like solar images of the five Slic features.

The images are drawn from a seeded random generator, so the same seed always gives the same
image. They train and test the classifier without downloads, so they try not to leave a shortcut:
plate scale, orientation, position on the disk, feature size and contrast, seeing, exposure level,
flat field and noise are all random, and every class is sometimes drawn on a photospheric
(granulation) background and otherwise on a chromospheric (network) one.

`make_image` draws an array, `make_map` the same image as a `~sunpy.map.GenericMap`,
`make_full_disk_map` the whole disk with several features at known places (and, on request, a
mask of each), and `make_dataset` writes a training set of FITS files. The generator needs only
numpy, astropy and sunpy: it never imports torch or the classifier.

The truth recorded in a Map's metadata (FITS-safe keys):

========  ==========================================================
SLICFEAT  feature name
SLICLBL   label id (0..4)
SLICSEED  seed
SLICVAR   ``chromosphere`` or ``photosphere`` background
FEATROW   0-based pixel row of the main feature
FEATCOL   0-based pixel column of the main feature
FEATSIZE  half-extent of the feature (pixels)
SLICSEQ   sequence number (`make_dataset` only)
SLICFRM   frame number within the sequence (`make_dataset` only)
========  ==========================================================
"""

from sunpy_slic.data.synthetic._files import make_dataset
from sunpy_slic.data.synthetic._maps import make_full_disk_map, make_map
from sunpy_slic.data.synthetic._scene import make_image

__all__ = ["make_dataset", "make_full_disk_map", "make_image", "make_map"]
