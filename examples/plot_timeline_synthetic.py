"""
==============================================
When did the flare ribbons appear? (synthetic)
==============================================

How to classify a sequence of frames with `sunpy_slic.sequence.classify_sequence`, smooth the
answer over time and list the intervals in which each feature was seen, then plot the timeline and
write the intervals as HEK records.

The frames are synthetic H-alpha-like maps (`sunpy_slic.data.synthetic.make_map`): two hours of
a sunspot field, observed every two minutes with an uneven cadence and a pause, in which flare
ribbons appear for fifty minutes and fade. Each frame is a fresh synthetic drawing of its feature,
not an evolving scene, so the classifier sees the same kind of variety from frame to frame as in
real data: most frames are right and a few are not.
"""

import tempfile

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from astropy.time import Time

from sunpy_slic.data.synthetic import make_map
from sunpy_slic.hek import to_hek_records, write_hek_json
from sunpy_slic.sequence import classify_sequence, feature_intervals
from sunpy_slic.visualization import plot_timeline

###############################################################################
# The true timeline: a sunspot, then flare ribbons for 50 minutes, then the sunspot again. Frames
# come every two minutes give or take 30 seconds, with a 16-minute pause in the middle of the
# flare (the telescope was busy elsewhere): shorter than ten median time steps, so the sequence is
# not broken there, but the smoothing trusts the frames on either side of it less.

rng = np.random.default_rng(0)
start = Time("2021-05-01T10:00:00")
minutes = np.cumsum(rng.uniform(1.5, 2.5, 60))
minutes[minutes > 55] += 16  # the pause
truth = np.where((minutes >= 40) & (minutes < 90), "flare_ribbon", "sunspot")
maps = [
    make_map(feature, seed=400 + i, shape=(96, 96), date=start + m * u.min)
    for i, (feature, m) in enumerate(zip(truth, minutes, strict=True))
]
print(f"{len(maps)} frames from {maps[0].date.isot} to {maps[-1].date.isot}")

###############################################################################
# Classify them. The frames may come in any order: the table is sorted by observation time and
# ``input_index`` keeps each row's place in the input. ``feature`` is each frame's own answer,
# ``smoothed_feature`` the answer after smoothing with a hidden Markov model whose transition
# probabilities follow the time between frames (see `~sunpy_slic.sequence.smooth_sequence`).

table = classify_sequence(maps[::-1], progress=False)
raw_right = np.mean(table["feature"] == truth)
smooth_right = np.mean(table["smoothed_feature"] == truth)
print(f"frames right: raw {raw_right:.0%}, smoothed {smooth_right:.0%}")
table["smoothed_probability"].info.format = ".3f"
table["date_obs", "input_index", "feature", "smoothed_feature", "smoothed_probability"][16:24].pprint_all()

###############################################################################
# The intervals: one row per run of frames with the same smoothed feature, with its start, end,
# duration and the peak and mean probability of the feature. Quiet Sun is left out unless asked
# for. The raw answers, cut the same way, give many short spurious intervals.

intervals = feature_intervals(table)
intervals["duration"] = intervals["duration"].to(u.min)
intervals["duration"].info.format = ".1f"
intervals["feature", "start", "end", "duration", "n_frames", "peak_probability"].pprint_all()
raw_intervals = feature_intervals(table, column="feature")
print(f"{len(raw_intervals)} intervals from the raw answers, {len(intervals)} after smoothing")

###############################################################################
# Plot the timeline: the five probabilities against time, the raw and smoothed feature as colour
# bands at the top, the intervals shaded behind. Isolated flips show in the raw band only.

fig = plt.figure(figsize=(11, 4.5), layout="constrained")
plot_timeline(table, intervals=feature_intervals(table), ax=fig.add_subplot())
plt.show()

###############################################################################
# Finally, the intervals as records for the Heliophysics Event Knowledgebase: flare ribbons
# become HEK flares (``FL``), sunspots ``SS``. A whole-frame classification says when, not where,
# so the positions are left empty (NaN) to be filled in before submission.

records = to_hek_records(intervals, observatory="synthetic")
records["event_probability"].info.format = ".3f"
records["event_type", "event_starttime", "event_endtime", "event_probability", "frm_specificid"].pprint_all()
path = write_hek_json(records, tempfile.mkdtemp() + "/flare_ribbons.json")
print(f"wrote {len(records)} records to {path.name}")
