"""
Tiles cut from synthetic full-disk scenes, labelled from the scenes' feature masks (issue #13).

A classifier trained on whole single-feature images says *what* an image shows; to say *where*, a
tiled classifier (`sunpy_slic.overlay.probability_map`) must know what a tile of a larger image
looks like. `full_disk_tiles` cuts such tiles from `~sunpy_slic.data.synthetic.make_full_disk_map`
scenes and labels each from the scene's masks with `tile_labels`:

* A tile's label follows its **central region** (by default the central quarter of its area: a
  square of half the tile's side on the tile's centre): the feature covering the largest fraction
  of that region wins, if it covers at least its minimum fraction of it (`MIN_FRACTION`: less for
  thin features such as flare ribbons).
* A tile whose centre lies **on the disk** and whose central region no feature covers enough is
  quiet Sun.
* The sky beyond the limb is not a class and is never forced into one: a tile whose centre lies
  **off the disk** is prominence when the prominence mask covers its central region enough, and
  is otherwise skipped (no label; `full_disk_tiles` leaves it out).

Whether a centre is on the disk follows the scene's geometry read from its Map (`disk_geometry`:
the pixel of the Sun's centre from the WCS, the radius from ``rsun_obs`` and the plate scale).

Scene seeds from `FIRST_EVALUATION_SEED` (900,000) up are reserved for evaluation
(``benchmarks/bench_localisation.py``): train on seeds below it.
"""

import numbers
from types import MappingProxyType
from typing import NamedTuple

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from sunpy.coordinates import Helioprojective
from sunpy.map import GenericMap

from sunpy_slic.data.synthetic import make_full_disk_map
from sunpy_slic.features import FEATURES, feature_name
from sunpy_slic.validation import check_bool, check_int, check_seed

__all__ = [
    "FIRST_EVALUATION_SEED",
    "MIN_FRACTION",
    "SKIPPED",
    "DiskGeometry",
    "TileSet",
    "disk_geometry",
    "full_disk_tiles",
    "tile_labels",
]

#: The label `tile_labels` gives a tile that has none (off the disk, no prominence in its centre).
SKIPPED = -1

#: Scene seeds from this one up are reserved for evaluation; training sets use seeds below it.
FIRST_EVALUATION_SEED = 900_000

#: Default smallest fraction of a tile's central region a feature must cover to label it. Thin
#: features cover little even when they cross the centre: a pair of flare ribbons crossing the
#: central region of a 128-pixel tile of a 1024-pixel scene covers about 6-10 % of it, a filament
#: 10-25 %, a sunspot centred on it 50-100 %.
MIN_FRACTION = MappingProxyType({"filament": 0.05, "flare_ribbon": 0.03, "prominence": 0.05, "sunspot": 0.1})

_QUIET = FEATURES.index("quiet_sun")
_PROMINENCE = FEATURES.index("prominence")
_MASKED = tuple(f for f in FEATURES if f != "quiet_sun")  # the features a scene draws masks of
_DEFAULT_PER_CLASS = 8  # balanced sampling without ``n``: tiles per class and scene
_DRAWS = 6  # balanced sampling: rounds of candidate centres before giving up on a class


class DiskGeometry(NamedTuple):
    """
    Where the solar disk lies on a map's pixel grid.

    Attributes
    ----------
    row, col : float
        0-based pixel position of the Sun's centre (row = y, col = x).
    radius : float
        The disk's radius in pixels (the photospheric limb, ``rsun_obs`` over the mean plate scale).
    """

    row: float
    col: float
    radius: float

    def rho(self, rows, cols):
        """
        Distance of pixel positions from the Sun's centre, in solar radii (below 1: on the disk).

        Examples
        --------
        >>> from sunpy_slic.data.tiles import DiskGeometry
        >>> float(DiskGeometry(row=10.0, col=10.0, radius=5.0).rho(10, 13))
        0.6
        """
        return np.hypot(
            np.asarray(rows, dtype=float) - self.row, np.asarray(cols, dtype=float) - self.col
        ) / (self.radius)


class TileSet(NamedTuple):
    """
    Labelled tiles and where they come from (returned by `full_disk_tiles`).

    Attributes
    ----------
    tiles : `numpy.ndarray`
        float32, ``(n, tile, tile)``: the scene's data, rows as in the Map (row 0 at the bottom).
    labels : `numpy.ndarray`
        int64, ``(n,)``: label ids of `~sunpy_slic.FEATURES` (never `SKIPPED`).
    centers : `numpy.ndarray`
        float64, ``(n, 2)``: (row, col) of each tile's centre in its scene, 0-based; the tile's
        rows are ``row - (tile - 1) / 2`` to ``row + (tile - 1) / 2`` (the convention of
        `~sunpy_slic.overlay.probability_map`).
    seeds : `numpy.ndarray`
        int64, ``(n,)``: the seed of each tile's scene (``make_full_disk_map(seed=...)``).
    relative_size : `numpy.ndarray`
        float64, ``(n,)``: the tile's side over its scene's disk diameter.
    """

    tiles: np.ndarray
    labels: np.ndarray
    centers: np.ndarray
    seeds: np.ndarray
    relative_size: np.ndarray


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------
def _check_unit_interval(value, name, *, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{name} must be a number in {'[0, 1]' if allow_zero else '(0, 1]'}, got {value!r}"
        raise TypeError(msg)
    value = float(value)
    if not (0 <= value <= 1) or (value == 0 and not allow_zero):
        msg = f"{name} must be a number in {'[0, 1]' if allow_zero else '(0, 1]'}, got {value!r}"
        raise ValueError(msg)
    return value


def _check_masks(masks):
    """{feature: bool array} with known, masked feature names and arrays of one 2-D shape."""
    if not isinstance(masks, dict):
        msg = f"masks must be a dict of feature name -> boolean array, got {type(masks).__name__}"
        raise TypeError(msg)
    if not masks:
        msg = "masks is empty; give at least one feature's mask (all False for none)"
        raise ValueError(msg)
    out, shape = {}, None
    for key, mask in masks.items():
        name = feature_name(key)
        if name == "quiet_sun":
            msg = (
                "masks may not hold 'quiet_sun': it is the background, not a drawn feature "
                f"(expected masks of {_MASKED})"
            )
            raise ValueError(msg)
        mask = np.asarray(mask)
        if mask.dtype != bool:
            msg = f"masks[{key!r}] must be a boolean array, got dtype {mask.dtype}"
            raise TypeError(msg)
        if mask.ndim != 2:
            msg = f"masks[{key!r}] must be 2-D, got shape {mask.shape}"
            raise ValueError(msg)
        if shape is None:
            shape = mask.shape
        elif mask.shape != shape:
            msg = f"every mask must have one shape: masks[{key!r}] has {mask.shape}, another {shape}"
            raise ValueError(msg)
        out[name] = out[name] | mask if name in out else mask
    return out, shape


def _check_min_fraction(min_fraction):
    """One minimum covered fraction per masked feature."""
    if min_fraction is None:
        return dict(MIN_FRACTION)
    if isinstance(min_fraction, dict):
        out = dict(MIN_FRACTION)
        for key, value in min_fraction.items():
            name = feature_name(key)
            if name == "quiet_sun":
                msg = "min_fraction has no meaning for 'quiet_sun' (the label of tiles without a feature)"
                raise ValueError(msg)
            out[name] = _check_unit_interval(value, f"min_fraction[{key!r}]")
        return out
    value = _check_unit_interval(min_fraction, "min_fraction")
    return dict.fromkeys(_MASKED, value)


def _check_shapes(shape):
    """A list of (rows, cols) scene shapes from one shape or a sequence of them."""
    if (
        isinstance(shape, tuple | list)
        and len(shape) == 2
        and all(isinstance(s, numbers.Integral) for s in shape)
    ):
        shapes = [shape]
    elif isinstance(shape, tuple | list) and shape:
        shapes = list(shape)
    else:
        msg = f"shape must be (rows, cols) or a sequence of such pairs, got {shape!r}"
        raise TypeError(msg)
    out = []
    for s in shapes:
        if not (isinstance(s, tuple | list) and len(s) == 2):
            msg = f"shape must be (rows, cols) or a sequence of such pairs, got {shape!r}"
            raise TypeError(msg)
        out.append(tuple(check_int(v, "shape", minimum=64, what="an integer of at least 64") for v in s))
    return out


# ----------------------------------------------------------------------------------------------
# Geometry and labels
# ----------------------------------------------------------------------------------------------
def disk_geometry(smap):
    """
    Where the solar disk lies on a helioprojective map's pixel grid.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        A helioprojective map with an observer (for ``rsun_obs``).

    Returns
    -------
    `DiskGeometry`
        The pixel of the Sun's centre (``smap.wcs.world_to_pixel`` of helioprojective (0, 0)) and the
        radius in pixels (``smap.rsun_obs`` over the mean of the two plate scales).

    Raises
    ------
    TypeError
        If ``smap`` is not a Map.
    ValueError
        If it is not helioprojective.

    Examples
    --------
    >>> from sunpy_slic.data.synthetic import make_full_disk_map
    >>> from sunpy_slic.data.tiles import disk_geometry
    >>> smap, _ = make_full_disk_map(seed=0, shape=(128, 128), features=[])
    >>> geometry = disk_geometry(smap)
    >>> round(geometry.row, 3), round(geometry.col, 3), round(geometry.radius, 1)  # 0.45 of the side
    (63.5, 63.5, 57.6)
    """
    if not isinstance(smap, GenericMap):
        msg = f"smap must be a sunpy Map, got {type(smap).__name__}"
        raise TypeError(msg)
    if not isinstance(smap.coordinate_frame, Helioprojective):
        frame = type(smap.coordinate_frame).__name__
        msg = f"smap must be helioprojective to know where the disk is, got a {frame} map"
        raise ValueError(msg)
    centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=smap.coordinate_frame)
    x, y = smap.wcs.world_to_pixel(centre)
    scale = 0.5 * (abs(smap.scale.axis1) + abs(smap.scale.axis2)) * u.pix
    radius = (smap.rsun_obs / scale).to_value(u.one)
    return DiskGeometry(row=float(y), col=float(x), radius=float(radius))


def _integral(mask):
    """Summed-area table of ``mask`` with a leading row and column of zeros."""
    s = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    np.cumsum(np.cumsum(mask, axis=0, dtype=np.int64), axis=1, out=s[1:, 1:])
    return s


def _box_counts(integral, r0, c0, side):
    """True pixels in the squares [r0, r0 + side) x [c0, c0 + side), clipped to the image."""
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    a, b = np.clip(r0, 0, h), np.clip(r0 + side, 0, h)
    c, d = np.clip(c0, 0, w), np.clip(c0 + side, 0, w)
    return integral[b, d] - integral[a, d] - integral[b, c] + integral[a, c]


def _corners(centers, tile):
    """Top-left pixels (r0, c0) of tiles of side ``tile`` centred on ``centers`` (n, 2)."""
    return np.floor(centers - (tile - 1) / 2 + 0.5).astype(np.int64)


def tile_labels(masks, centers, tile, *, disk=None, central=0.5, min_fraction=None, quiet_max=None):
    """
    Label tiles from feature masks by what covers their central region.

    Parameters
    ----------
    masks : dict of str to `numpy.ndarray`
        Boolean masks of one 2-D shape, by feature name (any of `~sunpy_slic.FEATURES` but
        ``quiet_sun``), e.g. those of ``make_full_disk_map(..., masks=True)``. A missing feature
        covers nothing.
    centers : array-like, shape (n, 2)
        (row, col) of each tile's centre, 0-based pixels; the tile spans rows ``r0`` to
        ``r0 + tile - 1`` with ``r0 = floor(row - (tile - 1) / 2 + 0.5)`` (and the same for columns).
    tile : int
        The tiles' side in pixels.
    disk : `DiskGeometry`, optional
        Where the disk is (`disk_geometry` of the scene's Map); a tile is on the disk when its
        centre is less than one radius from the Sun's centre. None: every tile is on the disk.
    central : float
        Side of the central region as a fraction of the tile's side (0.5: the central quarter of the
        tile's area), in (0, 1].
    min_fraction : float or dict, optional
        Smallest fraction of the central region a feature must cover to label the tile, in (0, 1]:
        one for all features, or a dict by feature (the others keep their default). Default:
        `MIN_FRACTION` (less for thin features). Pixels of the region outside the image count as
        uncovered.
    quiet_max : float, optional
        If given, an on-disk tile that would be quiet Sun is skipped instead when the features
        together cover more than this fraction of the whole tile (a feature at its edge).

    Returns
    -------
    `numpy.ndarray`
        int64, ``(n,)``: the label id (index into `~sunpy_slic.FEATURES`) of each tile, or
        `SKIPPED` (-1). On the disk: the feature covering the largest fraction of the central
        region, among those covering at least ``min_fraction`` (ties: `~sunpy_slic.FEATURES`
        order), else quiet Sun. Off the disk: prominence if the prominence mask covers at least
        ``min_fraction`` of the central region, else `SKIPPED`; sky is never a class.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.tiles import DiskGeometry, tile_labels
    >>> from sunpy_slic.features import FEATURES
    >>> spot = np.zeros((40, 40), dtype=bool)
    >>> spot[8:12, 8:12] = True  # fills the central region of the tile centred on (9.5, 9.5)
    >>> disk = DiskGeometry(row=19.5, col=19.5, radius=18.0)
    >>> labels = tile_labels({"sunspot": spot}, [(9.5, 9.5), (9.5, 17.5), (1.5, 1.5)], 8, disk=disk)
    >>> [FEATURES[k] if k >= 0 else "skipped" for k in labels]
    ['sunspot', 'quiet_sun', 'skipped']
    """
    masks, shape = _check_masks(masks)
    tile = check_int(tile, "tile", minimum=1, what="a positive integer")
    if tile > min(shape):
        msg = f"tile ({tile} pixels) is larger than the masks ({shape[0]}x{shape[1]})"
        raise ValueError(msg)
    centers = np.asarray(centers, dtype=float)
    if centers.ndim != 2 or centers.shape[1] != 2:
        if centers.size == 0:
            centers = centers.reshape(0, 2)
        else:
            msg = f"centers must be an array of (row, col) pairs, shape (n, 2), got shape {centers.shape}"
            raise ValueError(msg)
    if not np.isfinite(centers).all():
        msg = "centers must be finite"
        raise ValueError(msg)
    if disk is not None and not isinstance(disk, DiskGeometry):
        msg = f"disk must be a DiskGeometry (from disk_geometry) or None, got {type(disk).__name__}"
        raise TypeError(msg)
    central = _check_unit_interval(central, "central")
    minimum = _check_min_fraction(min_fraction)
    if quiet_max is not None:
        quiet_max = _check_unit_interval(quiet_max, "quiet_max", allow_zero=True)

    return _Labeller(masks, tile, disk, central, minimum, quiet_max)(centers)


class _Labeller:
    """`tile_labels` for one scene and one set of arguments (checked), with its summed-area tables."""

    def __init__(self, masks, tile, disk, central, minimum, quiet_max):
        self.tile, self.disk, self.quiet_max = tile, disk, quiet_max
        self.side = max(1, round(central * tile))
        self.minimum = np.array([minimum.get(f, 1.0) for f in FEATURES])
        self.integrals = {FEATURES.index(name): _integral(mask) for name, mask in masks.items()}
        self.union = None
        if quiet_max is not None:
            self.union = _integral(np.logical_or.reduce(list(masks.values())))

    def __call__(self, centers):
        tile, side = self.tile, self.side
        corners = _corners(centers, tile)
        inner = corners + (tile - side) // 2
        fractions = np.zeros((len(FEATURES), len(centers)))
        for k, integral in self.integrals.items():
            covered = _box_counts(integral, inner[:, 0], inner[:, 1], side) / side**2
            fractions[k] = np.where(covered >= self.minimum[k], covered, 0.0)
        best = np.argmax(fractions, axis=0)  # the first of equal maxima: FEATURES order
        found = fractions[best, np.arange(len(centers))] > 0
        labels = np.where(found, best, _QUIET).astype(np.int64)
        if self.union is not None:
            whole = _box_counts(self.union, corners[:, 0], corners[:, 1], tile) / tile**2
            labels[(labels == _QUIET) & (whole > self.quiet_max)] = SKIPPED
        if self.disk is not None:
            tile_centre = corners + (tile - 1) / 2
            off = self.disk.rho(tile_centre[:, 0], tile_centre[:, 1]) >= 1
            labels[off] = np.where(fractions[_PROMINENCE, off] > 0, _PROMINENCE, SKIPPED)
        return labels


# ----------------------------------------------------------------------------------------------
# Tiles from scenes
# ----------------------------------------------------------------------------------------------
def _grid_corners(shape, tile, stride):
    """Top-left pixels of a grid of tiles centred on the image (as `probability_map` lays it)."""
    ny, nx = shape
    n_rows, n_cols = (ny - tile) // stride + 1, (nx - tile) // stride + 1
    y0, x0 = ((ny - tile) % stride) // 2, ((nx - tile) % stride) // 2
    rows, cols = np.meshgrid(y0 + stride * np.arange(n_rows), x0 + stride * np.arange(n_cols), indexing="ij")
    return np.column_stack([rows.ravel(), cols.ravel()]).astype(np.int64)


def _balanced_corners(rng, masks, geometry, shape, tile, per_class, jitter, label):
    """Top-left pixels of up to ``per_class`` tiles of every class present, labelled by ``label``."""
    ny, nx = shape
    half = (tile - 1) / 2
    out = []
    classes = [FEATURES.index(f) for f in _MASKED if f in masks and masks[f].any()] + [_QUIET]
    for k in sorted(classes):
        if k != _QUIET:
            rows, cols = np.nonzero(masks[FEATURES[k]])
        kept = np.empty((0, 2), dtype=np.int64)
        for _ in range(_DRAWS):
            m = 4 * per_class
            if k == _QUIET:  # uniform over the disk
                ang = rng.uniform(0, 2 * np.pi, m)
                rr = geometry.radius * np.sqrt(rng.random(m))
                centre = np.column_stack([geometry.row + rr * np.sin(ang), geometry.col + rr * np.cos(ang)])
            else:  # a pixel of the mask, moved by up to ``jitter`` tiles along each axis
                pick = rng.integers(0, len(rows), m)
                centre = np.column_stack([rows[pick], cols[pick]]).astype(float)
                centre += rng.uniform(-jitter, jitter, (m, 2)) * tile
            corners = _corners(centre, tile)
            corners[:, 0] = np.clip(corners[:, 0], 0, ny - tile)
            corners[:, 1] = np.clip(corners[:, 1], 0, nx - tile)
            corners = corners[label(corners + half) == k]
            kept = np.concatenate([kept, corners])
            _, first = np.unique(kept, axis=0, return_index=True)
            kept = kept[np.sort(first)]
            if len(kept) >= per_class:
                break
        out.append(kept[:per_class])
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def full_disk_tiles(
    *,
    seed,
    shape=(1024, 1024),
    tile=None,
    n=None,
    n_scenes=1,
    features=None,
    balanced=False,
    stride=None,
    jitter=0.25,
    central=0.5,
    min_fraction=None,
    quiet_max=None,
):
    """
    Cut labelled tiles from synthetic full-disk scenes.

    Scene ``i`` (of ``n_scenes``) is ``make_full_disk_map(seed=seed + i, shape=..., masks=True)``;
    its tiles are labelled from its masks by `tile_labels` (the central region decides; off-limb
    sky without a prominence is left out). The same arguments always give the same tiles.

    Parameters
    ----------
    seed : int
        Seed of the first scene. Seeds from `FIRST_EVALUATION_SEED` (900,000) up are reserved for
        evaluation: train on lower ones.
    shape : tuple of int or sequence of tuples
        ``(rows, columns)`` of the scenes (the disk's diameter is 0.9 of the smaller side). Several
        shapes are used in turn, scene by scene: with the tile's side fixed in pixels, they give
        tiles of several sizes relative to the disk (see ``relative_size`` in the result).
    tile : int, optional
        Tile side in pixels; by default 1/8 of the smaller side of the first shape, at least 32 (the
        default of `~sunpy_slic.overlay.probability_map`).
    n : int, optional
        Tiles per scene. On the grid, a random choice of ``n`` of the labelled tiles (all of them
        when None or fewer). Balanced, ``n // classes`` per class present in the scene (default 8).
    n_scenes : int
        Number of scenes.
    features : dict or sequence of str, optional
        The features of each scene (``make_full_disk_map(features=...)``); by default its mix.
    balanced : bool
        False: tiles on a regular grid of step ``stride``, as `~sunpy_slic.overlay.probability_map`
        lays them. True: the same number of tiles of every class present in the scene (quiet Sun
        and each drawn feature): features are rare on the disk, so their tiles are centred on random
        pixels of their masks, moved by a random jitter; quiet-Sun tiles on random points of the
        disk. A candidate is kept only if `tile_labels` gives it the class sought (a class with too
        few gives fewer tiles).
    stride : int, optional
        Step of the grid, in pixels; default ``tile // 2``.
    jitter : float
        Balanced sampling: largest shift of a tile's centre from its mask pixel, along each axis,
        as a fraction of the tile's side (0.25: the pixel stays in the default central region).
    central, min_fraction, quiet_max
        How tiles are labelled; see `tile_labels`.

    Returns
    -------
    `TileSet`
        ``tiles`` (float32, ``(N, tile, tile)``), ``labels`` (int64 ids of `~sunpy_slic.FEATURES`),
        ``centers`` (float64 (row, col) in the scene), ``seeds`` (each tile's scene seed) and
        ``relative_size`` (tile side over the disk's diameter), scene by scene.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.tiles import full_disk_tiles
    >>> from sunpy_slic.features import FEATURES
    >>> tiles = full_disk_tiles(seed=0, shape=(256, 256), tile=32)
    >>> tiles.tiles.shape[1:], tiles.tiles.dtype, set(tiles.seeds.tolist())
    ((32, 32), dtype('float32'), {0})
    >>> round(float(tiles.relative_size[0]), 3)  # 32 pixels of a 230-pixel disk
    0.139
    >>> balanced = full_disk_tiles(seed=0, shape=(256, 256), tile=32, balanced=True, n=25)
    >>> sorted(FEATURES[k] for k in set(balanced.labels.tolist()))
    ['filament', 'flare_ribbon', 'prominence', 'quiet_sun', 'sunspot']
    """
    seed = check_seed(seed)
    shapes = _check_shapes(shape)
    n_scenes = check_int(n_scenes, "n_scenes", minimum=1, what="a positive integer")
    check_bool(balanced, "balanced")
    smallest = min(min(s) for s in shapes)
    if tile is None:
        tile = max(32, min(shapes[0]) // 8)
    tile = check_int(tile, "tile", minimum=8, what="an integer of at least 8")
    if tile > smallest:
        msg = f"tile ({tile} pixels) is larger than the smallest scene ({smallest} pixels)"
        raise ValueError(msg)
    stride = tile // 2 if stride is None else stride
    stride = check_int(stride, "stride", minimum=1, maximum=tile, what=f"an integer in [1, {tile}]")
    if n is not None:
        n = check_int(n, "n", minimum=1, what="a positive integer or None")
    jitter = _check_unit_interval(jitter, "jitter", allow_zero=True)
    # checked here, before any scene is drawn
    central = _check_unit_interval(central, "central")
    minimum = _check_min_fraction(min_fraction)
    if quiet_max is not None:
        quiet_max = _check_unit_interval(quiet_max, "quiet_max", allow_zero=True)

    parts = []
    for i in range(n_scenes):
        scene_seed = seed + i
        scene_shape = shapes[i % len(shapes)]
        smap, _, masks = make_full_disk_map(seed=scene_seed, shape=scene_shape, features=features, masks=True)
        geometry = disk_geometry(smap)
        label_masks = masks or {"sunspot": np.zeros(scene_shape, dtype=bool)}
        rng = np.random.default_rng([scene_seed, 0x711E5])
        label = _Labeller(label_masks, tile, geometry, central, minimum, quiet_max)
        if balanced:
            n_classes = 1 + sum(bool(m.any()) for m in masks.values())
            per_class = _DEFAULT_PER_CLASS if n is None else max(1, n // n_classes)
            corners = _balanced_corners(rng, masks, geometry, scene_shape, tile, per_class, jitter, label)
            labels = label(corners + (tile - 1) / 2)
        else:
            corners = _grid_corners(scene_shape, tile, stride)
            labels = label(corners + (tile - 1) / 2)
            keep = np.flatnonzero(labels != SKIPPED)
            if n is not None and n < len(keep):
                keep = np.sort(rng.choice(keep, n, replace=False))
            corners, labels = corners[keep], labels[keep]
        data = np.asarray(smap.data, dtype=np.float32)
        stack = np.empty((len(corners), tile, tile), dtype=np.float32)
        for j, (r0, c0) in enumerate(corners):
            stack[j] = data[r0 : r0 + tile, c0 : c0 + tile]
        parts.append(
            (
                stack,
                labels,
                corners + (tile - 1) / 2,
                np.full(len(corners), scene_seed, dtype=np.int64),
                np.full(len(corners), tile / (2 * geometry.radius)),
            )
        )
    return TileSet(*(np.concatenate(column) for column in zip(*parts, strict=True)))
