"""
=======================================
A timeline of the Hinode/SOT sample run
=======================================

How to classify a sequence of real frames with `sunpy_slic.sequence.classify_sequence`, list when
each feature was in view with `sunpy_slic.sequence.feature_intervals`, plot the timeline and write
the result as VOEvent XML in the vocabulary of the Heliophysics Event Knowledgebase (HEK).

The frames are the six Hinode/SOT Narrowband Filter Imager frames bundled with sunpy-slic (Fe I
5576 Å, 2011 October 8, 11:15–11:20 UT), two bursts of three frames a few minutes apart, all of a
sunspot. Hinode is a Japanese mission developed and launched by ISAS/JAXA, with NAOJ as domestic
partner and NASA and STFC (UK) as international partners. It is operated by these agencies in
co-operation with ESA and NSC (Norway).
"""

import tempfile

import astropy.units as u
import matplotlib.pyplot as plt

from sunpy_slic.data import sample_files
from sunpy_slic.hek import read_voevent, to_hek_records, write_voevent
from sunpy_slic.sequence import classify_sequence, feature_intervals, smooth_sequence
from sunpy_slic.visualization import plot_timeline

###############################################################################
# Classify the frames as one sequence. Each row is one frame, in time order, with its own answer
# (``feature``) and the answer smoothed over time (``smoothed_feature``).

table = classify_sequence(sample_files(), progress=False)
table["source"] = [s.rsplit("/", 1)[-1] for s in table["source"]]
for name in ("probability", "p_sunspot", "smoothed_probability"):
    table[name].info.format = ".3f"
table["source", "date_obs", "feature", "probability", "smoothed_feature", "smoothed_probability"].pprint_all()

###############################################################################
# The two bursts are almost five minutes apart, more than ten times the median time step between
# frames (6.4 s), so by default they are two segments: smoothing restarts at the gap and no
# interval spans it. The sunspot was seen in two intervals.

intervals = feature_intervals(table)
intervals["duration"].info.format = ".1f"
intervals["feature", "start", "end", "duration", "n_frames", "mean_probability", "instrument"].pprint_all()

###############################################################################
# The gap at which a sequence breaks is ``max_gap`` of `~sunpy_slic.sequence.smooth_sequence`.
# Allowing gaps of up to ten minutes makes the six frames one segment, and the sunspot one
# interval from the first frame to the last.

table = smooth_sequence(table, max_gap=10 * u.min)
intervals = feature_intervals(table)
intervals["duration"].info.format = ".1f"
intervals["feature", "start", "end", "duration", "n_frames", "mean_probability", "instrument"].pprint_all()

###############################################################################
# Plot the timeline.

fig = plt.figure(figsize=(10, 4), layout="constrained")
plot_timeline(table, intervals=intervals, ax=fig.add_subplot())
plt.show()

###############################################################################
# Write the interval as a HEK record in VOEvent XML. A sunspot is the HEK type ``SS``; the
# observatory (Hinode) is known from the instrument name. The positions are empty: a
# classification of whole frames says when a feature was seen, not where.

records = to_hek_records(intervals)
path = write_voevent(records, tempfile.mkdtemp() + "/hinode_sunspot.xml")
print(path.read_text()[:1200], "...")

###############################################################################
# Reading the file back gives the same records.

back = read_voevent(path)
print(back["event_type", "event_starttime", "event_endtime", "obs_observatory", "obs_instrument"])
