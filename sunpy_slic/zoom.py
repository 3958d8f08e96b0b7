"""
Look closer: a frame's classification from its whole view and from windows at up to twice its resolution.

The network sees every image resized to its input side (128 pixels for the bundled weights). In a
large frame a small feature shrinks with it: a sunspot 15″ across at 2.5″/pixel is 6 pixels of a
256-pixel frame and 3 at the input, and the network misses about half of the features under 8 input
pixels across (the model card). Zooming classifies, beside the whole frame, a 3 × 3 grid of
overlapping windows of half the frame's side (`zoom_windows`), each at up to twice the whole view's
resolution and never enlarged, and joins the answers (`zoom_probabilities`): a feature counts by its
most probable window, quiet Sun by its least probable one, so that a frame is quiet only where every
part of it looks quiet. The credibility of the answer is joined in the same way
(`zoom_credibility`): a small feature found in one window is vouched for by the training images
nearest to that window, not only by those nearest to the whole frame.

Only numpy: the windows are cut and classified by `sunpy_slic.classify` (``zoom=True``).
"""

import numpy as np

from sunpy_slic.validation import check_probability

__all__ = ["ZOOM_GRID", "ZOOM_WEIGHT", "zoom_credibility", "zoom_probabilities", "zoom_windows"]

#: Windows along each axis.
ZOOM_GRID = 3
#: The share of the windows' answer in the joined probabilities (the rest is the whole frame's).
#: Chosen on synthetic frames of seeds 980 000-985 000, which no training script and no benchmark
#: uses: 0.2-0.4 gave the same gains, 0.5 started to call quiet-Sun frames features.
ZOOM_WEIGHT = 0.3


def _starts(length, side):
    """Start pixels of `ZOOM_GRID` windows of ``side`` along an axis of ``length``, first to last."""
    if side >= length:
        return [0]
    return sorted({round(i * (length - side) / (ZOOM_GRID - 1)) for i in range(ZOOM_GRID)})


def zoom_windows(shape, image_size):
    """
    The windows a frame is zoomed into: slices of half its side, never under ``image_size``.

    Along each axis, `ZOOM_GRID` windows of half the frame's length (but at least ``image_size``,
    the network's input side, so that no window is enlarged beyond the frame's own pixels) run from
    the first pixel to the last, overlapping. An axis no longer than
    ``image_size`` is not cut; a frame cut along neither axis has no windows.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, columns)`` of the frame.
    image_size : int
        The network's input side in pixels (`~sunpy_slic.preprocessing.PreprocessSpec.image_size`).

    Returns
    -------
    list of tuple of slice
        ``(row slice, column slice)`` of every window, row by row; empty when the frame is no
        larger than the input along both axes.

    Examples
    --------
    >>> from sunpy_slic.zoom import zoom_windows
    >>> windows = zoom_windows((256, 256), 128)
    >>> len(windows), windows[4]
    (9, (slice(64, 192, None), slice(64, 192, None)))
    >>> len(zoom_windows((200, 100), 128))  # only the rows are cut: windows of 128 rows
    3
    >>> zoom_windows((128, 128), 128)
    []
    """
    sides = [min(n, max(-(-n // 2), int(image_size))) for n in shape]
    if all(side >= n for side, n in zip(sides, shape, strict=True)):
        return []
    rows, cols = (_starts(n, side) for n, side in zip(shape, sides, strict=True))
    return [(slice(r, r + sides[0]), slice(c, c + sides[1])) for r in rows for c in cols]


def zoom_probabilities(whole, windows, quiet, *, weight=ZOOM_WEIGHT):
    """
    Join a frame's probabilities with those of its windows.

    Each feature's score is ``(1 - weight) * whole + weight * best``, where ``best`` is its highest
    probability in any window, and for quiet Sun its lowest: a feature seen in one window counts,
    while quiet Sun has to hold in all of them. The scores are then scaled to sum to 1.

    Parameters
    ----------
    whole : array_like
        The frame's probabilities, shape ``(C,)``.
    windows : array_like
        Its windows' probabilities, shape ``(W, C)``; with no window (``W = 0``) the frame's
        probabilities come back unchanged.
    quiet : int
        The index of the quiet-Sun class.
    weight : float
        The windows' share, in [0, 1] (`ZOOM_WEIGHT`).

    Returns
    -------
    numpy.ndarray
        Probabilities, shape ``(C,)``, summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.zoom import zoom_probabilities
    >>> whole = np.array([0.05, 0.05, 0.05, 0.5, 0.35])  # seen whole: quiet Sun, or a sunspot?
    >>> windows = np.array([[0.0, 0.0, 0.0, 1.0, 0.0]] * 8 + [[0.0, 0.0, 0.0, 0.05, 0.95]])
    >>> p = zoom_probabilities(whole, windows, quiet=3)  # one window sees the sunspot
    >>> int(np.argmax(p)), round(float(p.sum()), 6)
    (4, 1.0)
    """
    weight = check_probability(weight, "weight")
    whole = np.asarray(whole, dtype=float)
    windows = np.asarray(windows, dtype=float).reshape(-1, whole.shape[-1])
    if len(windows) == 0:
        return whole
    best = windows.max(axis=0)
    best[quiet] = windows[:, quiet].min()
    score = (1.0 - weight) * whole + weight * best
    return score / score.sum()


def zoom_credibility(whole, windows, *, quiet, weight=ZOOM_WEIGHT):
    """
    Join the credibility of a zoomed answer, as `zoom_probabilities` joins its probabilities.

    The credibility (`sunpy_slic.credibility`) of the joined answer is ``(1 - weight) * whole +
    weight * best``: ``whole`` is the whole frame's credibility for that answer and ``best`` the
    highest of its windows' credibilities for it, or the lowest when the answer is quiet Sun.

    Parameters
    ----------
    whole : float
        The whole frame's credibility for the answer.
    windows : array_like
        Each window's credibility for the same answer, shape ``(W,)``; with none, ``whole`` comes
        back.
    quiet : bool
        Whether the answer is quiet Sun.
    weight : float
        The windows' share, in [0, 1] (`ZOOM_WEIGHT`).

    Returns
    -------
    float

    Examples
    --------
    >>> from sunpy_slic.zoom import zoom_credibility
    >>> round(zoom_credibility(0.2, [0.1, 0.9, 0.3], quiet=False), 2)  # one window's neighbours agree
    0.41
    >>> round(zoom_credibility(1.0, [1.0, 0.5, 1.0], quiet=True), 2)  # not quiet everywhere
    0.85
    """
    weight = check_probability(weight, "weight")
    windows = np.asarray(windows, dtype=float).ravel()
    if len(windows) == 0:
        return float(whole)
    best = windows.min() if quiet else windows.max()
    return float((1.0 - weight) * whole + weight * best)
