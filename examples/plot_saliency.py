"""
===================================================
Which pixels made the model say "sunspot"? Saliency
===================================================

How to make a Grad-CAM saliency map with `sunpy_slic.overlay.saliency_map` and draw it over the
image it explains.

Grad-CAM weights the activations of the network's last convolutional layer by how much each one
raises the score of the chosen feature, and keeps the positive part: bright pixels pushed the
classification towards that feature. It is computed at the resolution of that layer (the input
size divided by 16) and upsampled to the image, so it shows *where*, not fine detail.

The image is one of the Hinode/SOT Narrowband Filter Imager frames bundled with sunpy-slic
(Fe I 5576 Å, 2011 October 8), which show a sunspot. Hinode is a Japanese mission developed and
launched by ISAS/JAXA, with NAOJ as domestic partner and NASA and STFC (UK) as international
partners. It is operated by these agencies in co-operation with ESA and NSC (Norway).
"""

import warnings

import astropy.units as u
import matplotlib.pyplot as plt
from sunpy.util.exceptions import SunpyMetadataWarning

import sunpy_slic
from sunpy_slic.data import sample_files
from sunpy_slic.io import read_map
from sunpy_slic.overlay import saliency_map
from sunpy_slic.visualization import plot_probabilities

###############################################################################
# Read the frame and classify it with the bundled default weights. These level-0 headers lack the
# observer's position; sunpy then assumes the Earth (right for Hinode, in low Earth orbit) and
# says so each time a new map of this frame is made. We have been told once.

warnings.filterwarnings("ignore", category=SunpyMetadataWarning)
smap = read_map(sample_files()[0])
model = sunpy_slic.load_model()
result = sunpy_slic.classify(smap, model=model)
print(result)

###############################################################################
# The saliency of the sunspot class, and of the class the model actually chose. A saliency map
# is a `~sunpy.map.GenericMap` with the image's own WCS and metadata, values from 0 to 1.

sunspot = saliency_map(smap, "sunspot", model=model)
chosen = saliency_map(smap, result.feature, model=model)
print(sunspot.meta["slicmeth"], sunspot.meta["sliclayr"], sunspot.data.shape == smap.data.shape)

###############################################################################
# Draw the image with the saliency as contours (both maps share one WCS), the saliency on its
# own, and the probabilities.

fig = plt.figure(figsize=(13, 4.5), layout="constrained")
ax1 = fig.add_subplot(1, 3, 1, projection=smap)
smap.plot(axes=ax1, clip_interval=(1, 99.5) * u.percent)
sunspot.draw_contours([0.5, 0.75, 0.9] * u.one, axes=ax1, colors="cyan", linewidths=[1, 1.5, 2])
ax1.set_title("Image, sunspot saliency contours")
ax2 = fig.add_subplot(1, 3, 2, projection=chosen)
chosen.plot(axes=ax2, title=f"Saliency of {result.feature.replace('_', ' ')}")
ax3 = fig.add_subplot(1, 3, 3)
plot_probabilities(result, ax=ax3)
plt.show()

# sphinx_gallery_thumbnail_number = 1
