"""
==========================================
From probability maps to HEK-ready records
==========================================

How to turn per-feature probability maps into regions with `sunpy_slic.overlay.detections`
(an outline as a SkyCoord polygon, a centroid, a bounding box and an area in millionths of the
hemisphere), draw them with `sunpy_slic.visualization.plot_detections`, compare them with where the
features really are, and write them as Heliophysics Event Knowledgebase records with
`sunpy_slic.hek`.

The image is a synthetic full-disk scene with known feature masks
(``make_full_disk_map(..., masks=True)``, a seed no model was trained on). The bundled weights were
trained on tiles of such scenes, the disk's edge included: sunspots, filaments and ribbons are
found where they are, and the prominence map, weighted by the emission above the limb, finds the
prominences and leaves the bare limb dark, as the localisation metrics below show.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from sunpy_slic.data.synthetic import make_full_disk_map
from sunpy_slic.hek import read_hek_json, to_hek_records, write_hek_json
from sunpy_slic.localisation import evaluate_localisation
from sunpy_slic.overlay import detections, probability_map
from sunpy_slic.visualization import plot_detections

###############################################################################
# A scene, its true feature masks, and the probability maps of the bundled model.

smap, truth, masks = make_full_disk_map(seed=900_001, shape=(512, 512), masks=True)
probs = probability_map(smap, progress=False)

###############################################################################
# Regions where a feature is probable: one row each, with coordinates as SkyCoords in the map's
# helioprojective frame (observer and time included).

regions = detections(probs, threshold=0.6)
regions["feature", "center", "area", "area_msh", "peak_probability"].pprint(max_width=120)

###############################################################################
# Outlines and centroids over the image; the true masks as thin white contours.

fig = plt.figure(figsize=(7, 7))
ax = fig.add_subplot(projection=smap)
smap.plot(axes=ax)
for mask in masks.values():
    ax.contour(mask, levels=[0.5], colors="white", linewidths=0.5)
plot_detections(smap, regions, ax=ax)
plt.show()

###############################################################################
# How well do the maps find the features? Per-feature pixel AUROC, false-positive area and region
# precision and recall against the masks (`sunpy_slic.localisation`).

evaluate_localisation(probs, masks, smap, threshold=0.6)[
    "feature", "auroc", "fp_area", "precision", "recall"
].pprint()

###############################################################################
# HEK-ready records (event types SS sunspot, FI filament and prominence, FL flare ribbons), written
# as JSON and read back to the same table.

records = to_hek_records(regions)
path = write_hek_json(records, Path(tempfile.mkdtemp()) / "regions.json")
back = read_hek_json(path)
back["event_type", "hpc_x", "hpc_y", "event_probability"].pprint()
print(back["hpc_boundcc"][0][:80], "...")
