"""
======================================
Classifying a Hinode/SOT sunspot image
======================================

How to classify a solar image with `sunpy_slic.classify` and plot the image next to the
probabilities of the five features.

The image is one of the six Hinode/SOT Narrowband Filter Imager frames bundled with sunpy-slic
(Fe I 5576 Å, 2011 October 8), which show a sunspot. Hinode is a Japanese mission developed and
launched by ISAS/JAXA, with NAOJ as domestic partner and NASA and STFC (UK) as international
partners. It is operated by these agencies in co-operation with ESA and NSC (Norway).
"""

import astropy.units as u
import matplotlib.pyplot as plt

import sunpy_slic
from sunpy_slic.data import sample_files
from sunpy_slic.io import read_map
from sunpy_slic.visualization import plot_probabilities

###############################################################################
# Read the first frame into a `~sunpy.map.Map`. `sunpy_slic.io.read_map` is `sunpy.map.Map`
# for one FITS file, with a clear error for files that are not images; it also silences sunpy's
# warnings about the observer position, which these level-0 headers lack.

smap = read_map(sample_files()[0])
print(smap.instrument, smap.date.isot, smap.dimensions)

###############################################################################
# Classify it. With no ``model=`` the bundled default weights are used (see the model card);
# the image is preprocessed exactly as the model's training images were. The result holds the
# most probable feature, the probability of every feature and the metadata of the map.

result = sunpy_slic.classify(smap)
print(result)

###############################################################################
# Plot the map on its own world coordinates next to the five probabilities.

fig = plt.figure(figsize=(11, 4.5), layout="constrained")
ax_map = fig.add_subplot(1, 2, 1, projection=smap)
smap.plot(axes=ax_map, clip_interval=(1, 99.5) * u.percent)
ax_bar = fig.add_subplot(1, 2, 2)
plot_probabilities(result, ax=ax_bar)
plt.show()

###############################################################################
# A list of maps or FITS paths gives an `~astropy.table.QTable` with one row per image, with
# the observation time, instrument, wavelength, predicted feature and all five probabilities.
# Here are all six bundled frames, two batches of three minutes apart:

table = sunpy_slic.classify(sample_files(), progress=False)
table["source"] = [s.rsplit("/", 1)[-1] for s in table["source"]]
for name in table.colnames:
    if name.startswith("p"):
        table[name].info.format = ".3f"
table["source", "date_obs", "wavelength", "feature", "probability", "p_sunspot"].pprint_all()
