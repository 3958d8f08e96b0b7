"""
================================================
A rotated frame with a slit: what the model sees
================================================

Level-1 frames rotated to solar north carry a border of zeros, and slit-jaw images carry the
spectrograph slit as a dark line across the frame. Both are the instrument, not the Sun, but to a
network they are the darkest, sharpest things in the image. The bundled weights remove them first
(`sunpy_slic.artefacts`, the ``mask_artefacts`` setting of the preprocessing): the border becomes
missing data and the slit is interpolated over.

The frame is a Hinode/SOT Narrowband Filter Imager image of a sunspot (Fe I 5576 Å, 2011 October 8,
11:20 UT, held out of the bundled model's training). Hinode is a Japanese mission developed and
launched by ISAS/JAXA, with NAOJ as domestic partner and NASA and STFC (UK) as international
partners. It is operated by these agencies in co-operation with ESA and NSC (Norway).
"""

import dataclasses

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
import sunpy.map

import sunpy_slic
from sunpy_slic.artefacts import without_artefacts
from sunpy_slic.data import sample_files
from sunpy_slic.io import read_map
from sunpy_slic.visualization import plot_probabilities

###############################################################################
# Rotate the frame by 25° as a pipeline would, filling the corners with zeros, and darken a
# column of it as a spectrograph slit would (the NFI has no slit; here we draw one, with a short
# fiducial mark across it, as a slit-jaw imager shows it).

smap = read_map(next(f for f in sample_files() if "_1120" in f.name))
smap = sunpy.map.Map(smap.data.astype(float), smap.meta)  # the NFI's integers, as floats to rotate
rotated = smap.rotate(angle=25 * u.deg, missing=0.0)
data = np.array(rotated.data, dtype=float)
column = data.shape[1] // 2 + 60
data[:, column : column + 3] *= 0.3
data[300:303, column - 12 : column + 15] *= 0.3
frame = sunpy.map.Map(data, rotated.meta)

###############################################################################
# Classify it with the bundled weights, and with the same weights told not to remove the marks
# (the v2.2 weights did not).

model = sunpy_slic.load_model()
unmasked = sunpy_slic.load_model()
spec = dataclasses.replace(unmasked.slic_meta.preprocess, mask_artefacts=False)
unmasked.slic_meta = dataclasses.replace(unmasked.slic_meta, preprocess=spec)

with_masking = sunpy_slic.classify(frame, model=model)
without_masking = sunpy_slic.classify(frame, model=unmasked)
print(
    f"marks removed ({' and '.join(with_masking.artefacts)}): {with_masking.feature} "
    f"(p = {with_masking.probability:.2f}), in distribution: {with_masking.in_distribution}"
)
print(
    f"marks kept:    {without_masking.feature} (p = {without_masking.probability:.2f}), "
    f"in distribution: {without_masking.in_distribution}"
)

###############################################################################
# The frame as given, the frame the network sees (the border missing, shown blank; the slit
# bridged), and the five probabilities either way.

fig = plt.figure(figsize=(12, 7.5), layout="constrained")
ax_raw = fig.add_subplot(2, 2, 1, projection=frame)
frame.plot(axes=ax_raw, clip_interval=(1, 99.5) * u.percent, title="As given: border and slit")
seen = sunpy.map.Map(without_artefacts(frame.data), frame.meta)
ax_seen = fig.add_subplot(2, 2, 2, projection=seen)
seen.plot(axes=ax_seen, clip_interval=(1, 99.5) * u.percent, title="What the network sees")
ax_with = fig.add_subplot(2, 2, 3)
plot_probabilities(with_masking, ax=ax_with)
ax_with.set_title("Marks removed (bundled weights)")
ax_without = fig.add_subplot(2, 2, 4)
plot_probabilities(without_masking, ax=ax_without)
ax_without.set_title("Marks kept")
plt.show()
