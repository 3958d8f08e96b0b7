"""
==========================================
A small sunspot in a large frame: ``zoom``
==========================================

The network sees every image at 128 × 128 pixels. In a frame of 512 pixels at 2.5″/pixel, a full-disk
plate scale, a sunspot of 12″ radius is 10 pixels across, and less than 3 at the network's input:
seen whole, the frame looks like quiet Sun. ``classify(..., zoom=True)`` also classifies a 3 × 3 grid
of windows of half the frame's side, at twice the resolution, and joins their answers with the whole
frame's (`sunpy_slic.zoom`).

The map is synthetic (`sunpy_slic.data.synthetic.make_map`, a seed no model was trained on), so
where the sunspot is is known.
"""

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

import sunpy_slic
from sunpy_slic.data.synthetic import make_map
from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.zoom import zoom_windows

###############################################################################
# A synthetic H-alpha-like frame of 512 pixels at 2.5″/pixel with a small sunspot; its position is
# in the metadata (``FEATROW``, ``FEATCOL``).

smap = make_map("sunspot", seed=943_014, shape=(512, 512), scale=2.5, scene="physical")
print(smap.scale, "sunspot half-extent:", round(smap.meta["featsize"], 1), "pixels")

###############################################################################
# Seen whole, the frame is called quiet Sun; zoomed, a sunspot. Neither answer is sure: the top
# probabilities are about 0.4, the whole frame is flagged as unlike the training images, and the
# zoomed credibility (the share of the nearest training images that agree) is 0.41.

whole = sunpy_slic.classify(smap)
zoomed = sunpy_slic.classify(smap, zoom=True)
print(whole)
print(zoomed)

###############################################################################
# What each window says: the windows `sunpy_slic.classify` looks at, classified one by one.

windows = zoom_windows(smap.data.shape, 128)
table = sunpy_slic.classify([smap.data[rows, cols] for rows, cols in windows], progress=False)
for (rows, cols), p in zip(windows, table["p_sunspot"], strict=True):
    print(f"rows {rows.start:3d}-{rows.stop:3d}, columns {cols.start:3d}-{cols.stop:3d}: sunspot {p:.2f}")

###############################################################################
# The map with the sunspot circled (red) and its most sunspot-like window (yellow); that window (the
# network sees it at 128 pixels, twice the resolution of the whole view); and the five probabilities
# seen whole and zoomed.

best = int(np.argmax(table["p_sunspot"]))
rows, cols = windows[best]
window = smap.submap([cols.start, rows.start] * u.pix, top_right=[cols.stop - 1, rows.stop - 1] * u.pix)

fig = plt.figure(figsize=(14, 4.8), layout="constrained")
ax = fig.add_subplot(1, 3, 1, projection=smap)
smap.plot(axes=ax, clip_interval=(1, 99.5) * u.percent, title="Whole frame: 512 pixels at 2.5″/pixel")
spot = (smap.meta["featcol"], smap.meta["featrow"])
ax.plot(*spot, "o", mfc="none", mec="red", ms=14, mew=1.5, transform=ax.get_transform("pixel"))
ax.add_patch(
    Rectangle(
        (cols.start, rows.start),
        cols.stop - cols.start,
        rows.stop - rows.start,
        fill=False,
        edgecolor="yellow",
        linewidth=1.5,
        transform=ax.get_transform("pixel"),
    )
)
ax_win = fig.add_subplot(1, 3, 2, projection=window)
window.plot(
    axes=ax_win,
    clip_interval=(1, 99.5) * u.percent,
    title=f"Zoom window: sunspot p = {table['p_sunspot'][best]:.2f}",
)

ax_bar = fig.add_subplot(1, 3, 3)
x = np.arange(len(FEATURES))
ax_bar.bar(x - 0.2, [whole.probabilities[f] for f in FEATURES], 0.4, label="whole frame")
ax_bar.bar(x + 0.2, [zoomed.probabilities[f] for f in FEATURES], 0.4, label="zoom=True")
ax_bar.set_xticks(x, [DISPLAY_NAMES[f] for f in FEATURES], rotation=20)
ax_bar.set_ylabel("probability")
ax_bar.legend()
plt.show()
