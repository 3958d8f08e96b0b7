"""
Synthetic H-alpha-like solar images of the five Slic features.

The images are drawn from a seeded random generator, so the same seed always gives the same
image. They train and test the classifier without downloads, so they try not to leave a shortcut:
plate scale, orientation, position on the disk, feature size and contrast, seeing, exposure level,
flat field and noise are all random, and every class is sometimes drawn on a photospheric
(granulation) background and otherwise on a chromospheric (network) one.

`make_image` draws an array, `make_map` the same image as a `~sunpy.map.GenericMap`,
`make_full_disk_map` the whole disk with several features at known places (and, on request, a
mask of each), `make_images` a labelled set of images (a fixed seed scheme, `SEED_STRIDE`), and
`make_dataset` writes a training set of FITS files. The generator needs only
numpy, scipy, astropy, sunpy and Pillow: it never imports torch or the classifier.

For images like real archives', ``scale="random"`` draws the plate scale over the feature's
physical range (`random_scale`, `PLATE_SCALE_RANGES`: from granulation to full-disk scales) with a
physical scene (feature sizes in arcsec, the confusers of each class), and ``effects`` adds what
archives do to an image (`apply_effects`, `REALISM_EFFECTS`: a spectrograph slit, detector
artefacts, binning, filled borders, saturation, 8-bit quantisation, JPEG; `random_effects` draws
the mix of ``effects="random"``). Without them the images
are those of earlier versions, bit for bit. See :ref:`synthetic`.

The truth recorded in a Map's metadata (FITS-safe keys):

========  ==========================================================
SLICFEAT  feature name
SLICLBL   label id (0..4)
SLICSEED  seed
SLICVAR   ``chromosphere`` or ``photosphere`` background
FEATROW   0-based pixel row of the main feature
FEATCOL   0-based pixel column of the main feature
FEATSIZE  half-extent of the feature (pixels)
SLICSCN   ``classic`` or ``physical`` scene (only for a physical scene or with effects)
SLICEFF   the effects applied, comma-separated (idem)
SLICSEQ   sequence number (`make_dataset` only)
SLICFRM   frame number within the sequence (`make_dataset` only)
========  ==========================================================
"""

from sunpy_slic.data.synthetic._files import make_dataset
from sunpy_slic.data.synthetic._maps import make_full_disk_map, make_map
from sunpy_slic.data.synthetic._realism import (
    RANDOM_EFFECT_PROBABILITY,
    REALISM_EFFECTS,
    apply_effects,
    random_effects,
)
from sunpy_slic.data.synthetic._scales import PLATE_SCALE_RANGES, random_scale
from sunpy_slic.data.synthetic._scene import SEED_STRIDE, make_image, make_images

__all__ = [
    "PLATE_SCALE_RANGES",
    "RANDOM_EFFECT_PROBABILITY",
    "REALISM_EFFECTS",
    "SEED_STRIDE",
    "apply_effects",
    "make_dataset",
    "make_full_disk_map",
    "make_image",
    "make_images",
    "make_map",
    "random_effects",
    "random_scale",
]
