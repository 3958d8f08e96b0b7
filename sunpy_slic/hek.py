"""
Feature and event records in the vocabulary of the Heliophysics Event Knowledgebase (HEK).

The `HEK <https://www.lmsal.com/hek/>`__ catalogues solar features and events as records with
standard parameters (`the HEK VOEvent specification
<https://www.lmsal.com/hek/VOEvent_Spec.html>`__): ``event_type``, ``event_starttime``,
``event_endtime``, ``hpc_x``, ``frm_name``, ``obs_instrument`` and so on. `to_hek_records` turns
the intervals of `sunpy_slic.sequence.feature_intervals` (or, later, tables of spatial detections)
into such records; `write_hek_json` and `write_voevent` write them, `read_hek_json` and
`read_voevent` read them back into the same table.

**Event types.** The HEK has a two-letter type for each kind of feature or event. sunpy-slic's five
features map onto them as follows (`EVENT_TYPES`):

============== ==== ================================================================================
feature        type why
============== ==== ================================================================================
filament       FI   Filament.
flare_ribbon   FL   Flare: flare ribbons are the chromospheric footprint of a flare.
prominence     FI   Filament. The HEK has no prominence type: a prominence is a filament seen above the
                    limb, and the HEK files both as FI. ("PB", ProminenceBubble, is a different
                    phenomenon, a cavity under a quiescent prominence.)
quiet_sun      NR   NothingReported: the type a feature-recognition method uses to report that it
                    looked and found none of its features, which is what a quiet-Sun answer says.
sunspot        SS   Sunspot.
============== ==== ================================================================================

Because FI stands for two features, every record keeps sunpy-slic's own name in ``slic_feature``
(non-HEK parameters start with ``slic_``); reading a record back never guesses it from the type.

**Positions.** A classification of a whole frame says *when* a feature was in view, not *where*:
its records have NaN ``hpc_x``, ``hpc_y`` and empty ``hpc_bbox`` and ``hpc_boundcc``. Add the
position before submitting them to the HEK, which requires it. A table whose rows carry positions
(``hpc_x`` and ``hpc_y`` Quantities, or a helioprojective ``center``
`~astropy.coordinates.SkyCoord` as `sunpy_slic.overlay.detections` gives, and optionally
``hpc_bbox`` and ``hpc_boundcc``) gives records with them.
"""

import datetime
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table
from astropy.time import Time

from sunpy_slic._version import __version__
from sunpy_slic.atomic import atomic_write_bytes
from sunpy_slic.features import DISPLAY_NAMES, feature_name

__all__ = [
    "EVENT_TYPES",
    "FRM_NAME",
    "HEK_FIELDS",
    "REQUIRED_FIELDS",
    "read_hek_json",
    "read_voevent",
    "to_hek_records",
    "write_hek_json",
    "write_voevent",
]

#: The HEK event type of each feature (see the module documentation for the choices).
EVENT_TYPES = {
    "filament": "FI",
    "flare_ribbon": "FL",
    "prominence": "FI",
    "quiet_sun": "NR",
    "sunspot": "SS",
}

#: The names the HEK gives its event types (from the HEK VOEvent specification).
EVENT_TYPE_NAMES = {"FI": "Filament", "FL": "Flare", "NR": "NothingReported", "SS": "Sunspot"}

#: The feature recognition method's name in every record.
FRM_NAME = "sunpy-slic"

#: The columns of a records table, in order, with their kind: ``str``, ``time`` (UTC
#: `~astropy.time.Time`, masked where unknown), ``arcsec`` (`~astropy.units.Quantity` in arcsec, NaN
#: where unknown), ``wavelength`` (`~astropy.units.Quantity` written in the unit of
#: ``obs_wavelunit``), ``float`` and ``int``.
HEK_FIELDS = {
    "event_type": "str",
    "event_starttime": "time",
    "event_endtime": "time",
    "event_peaktime": "time",
    "event_coordsys": "str",
    "event_coordunit": "str",
    "event_coord1": "float",
    "event_coord2": "float",
    "hpc_x": "arcsec",
    "hpc_y": "arcsec",
    "hpc_bbox": "str",
    "hpc_boundcc": "str",
    "event_probability": "float",
    "event_description": "str",
    "frm_name": "str",
    "frm_identifier": "str",
    "frm_institute": "str",
    "frm_contact": "str",
    "frm_url": "str",
    "frm_humanflag": "str",
    "frm_version": "str",
    "frm_versionnumber": "float",
    "frm_specificid": "str",
    "frm_paramset": "str",
    "obs_observatory": "str",
    "obs_instrument": "str",
    "obs_channelid": "str",
    "obs_meanwavel": "wavelength",
    "obs_wavelunit": "str",
    "slic_feature": "str",
    "slic_n_frames": "int",
    "slic_peak_probability": "float",
}

#: The fields every record read from a file must have (a missing one is a `ValueError`); the
#: others are optional and read as unknown (empty, NaN or masked) where absent.
REQUIRED_FIELDS = (
    "event_type",
    "event_starttime",
    "event_endtime",
    "event_coordsys",
    "event_coordunit",
    "frm_name",
    "obs_observatory",
    "obs_instrument",
)

_VOEVENT_NS = "http://www.ivoa.net/xml/VOEvent/v2.0"
_VOEVENT = f"{{{_VOEVENT_NS}}}VOEvent"
_IVORN = "ivo://sunpy.org/sunpy-slic"

# Observatories of instruments often classified, for obs_observatory (by the part of the
# instrument name before any "/": "SOT/NB" is Hinode's).
_OBSERVATORIES = {
    "AIA": "SDO",
    "HMI": "SDO",
    "SOT": "Hinode",
    "XRT": "Hinode",
    "EIS": "Hinode",
    "EUI": "Solar Orbiter",
    "PHI": "Solar Orbiter",
    "GONG": "NSO-GONG",
    "SYNTHETIC": "synthetic",
}

ET.register_namespace("voe", _VOEVENT_NS)


def _version_number(version):
    """The ``major.minor`` of a version string as a float (FRM_VersionNumber is a float)."""
    parts = version.split(".")
    try:
        return float(f"{int(parts[0])}.{int(parts[1])}")
    except (IndexError, ValueError):
        return float("nan")


def _ms(t):
    """UTC times rounded to the millisecond, as the files store them (so they read back equal)."""
    t = Time(t, copy=False).utc
    if t.masked:
        mask = np.broadcast_to(np.asarray(t.mask, dtype=bool), t.shape)
        out = Time(np.where(mask, "2000-01-01T00:00:00.000", t.unmasked.isot), format="isot", scale="utc")
        if mask.any():
            out = Time(out, copy=True)
            out[mask] = np.ma.masked
        return out
    return Time(t.isot, format="isot", scale="utc")


def _polygon(xs, ys):
    """A WKT polygon of arcsec coordinates, closed, as the HEK writes ``hpc_bbox``."""
    points = [*zip(xs, ys, strict=True)]
    if points and points[0] != points[-1]:
        points.append(points[0])
    return "POLYGON((" + ",".join(f"{x:.6g} {y:.6g}" for x, y in points) + "))"


def _bbox_strings(col, n):
    if col is None:
        return np.full(n, "")
    if isinstance(col, u.Quantity):
        if col.shape != (n, 4):
            msg = (
                "hpc_bbox must be strings or an (N, 4) Quantity (x_min, y_min, x_max, y_max), "
                f"got shape {col.shape}"
            )
            raise ValueError(msg)
        v = col.to_value(u.arcsec)
        return np.array(
            [
                ""
                if not np.isfinite(r).all()
                else _polygon([r[0], r[2], r[2], r[0]], [r[1], r[1], r[3], r[3]])
                for r in v
            ]
        )
    return np.asarray(col, dtype=str)


def _boundary_strings(col, n):
    if col is None:
        return np.full(n, "")
    out = []
    for item in col:
        if isinstance(item, str | np.str_):
            out.append(str(item))
        elif item is None or np.ma.is_masked(item) or len(item) == 0:
            out.append("")
        else:
            v = item.to_value(u.arcsec) if isinstance(item, u.Quantity) else np.asarray(item, dtype=float)
            out.append(_polygon(v[:, 0], v[:, 1]))
    return np.array(out, dtype=str) if out else np.full(n, "")


def _positions(table, n):
    """(hpc_x, hpc_y) in arcsec, NaN where the table has no position."""
    if "hpc_x" in table.colnames and "hpc_y" in table.colnames:
        x, y = u.Quantity(table["hpc_x"], u.arcsec), u.Quantity(table["hpc_y"], u.arcsec)
        return x.to_value(u.arcsec), y.to_value(u.arcsec)
    if "center" in table.colnames and isinstance(table["center"], SkyCoord):
        c = table["center"]
        if not hasattr(c, "Tx"):
            msg = (
                "the center column must be in a helioprojective frame to give hpc_x and hpc_y, "
                f"got {c.frame.name}; transform it first"
            )
            raise ValueError(msg)
        return c.Tx.wrap_at(180 * u.deg).to_value(u.arcsec), c.Ty.to_value(u.arcsec)
    return np.full(n, np.nan), np.full(n, np.nan)


def _time_columns(table):
    """(start, end, peak) of each row: an intervals table's, or a detections table's obstime."""
    if "start" in table.colnames and "end" in table.colnames:
        start, end = table["start"], table["end"]
        peak = table["peak_time"] if "peak_time" in table.colnames else start
        return start, end, peak
    if "center" in table.colnames and isinstance(table["center"], SkyCoord):
        t = table["center"].obstime
        if t is not None:
            t = Time([t.utc.isot] * len(table), scale="utc") if t.isscalar else Time(t)
            return t, t, t
    msg = (
        "the table has no start and end times: give the intervals of "
        "sunpy_slic.sequence.feature_intervals (or rows with a center SkyCoord that has an obstime)"
    )
    raise ValueError(msg)


def _optional(table, name):
    return table[name] if name in table.colnames else None


def _detection_bbox(table):
    """``hpc_bbox``, or from a detections table's ``bottom_left``/``top_right`` corners."""
    if "hpc_bbox" in table.colnames or not {"bottom_left", "top_right"} <= set(table.colnames):
        return _optional(table, "hpc_bbox")
    lo, hi = table["bottom_left"], table["top_right"]
    corners = [lo.Tx, lo.Ty, hi.Tx, hi.Ty]
    x_min, x_max = np.minimum(corners[0], corners[2]), np.maximum(corners[0], corners[2])
    y_min, y_max = np.minimum(corners[1], corners[3]), np.maximum(corners[1], corners[3])
    return u.Quantity([x_min, y_min, x_max, y_max]).T.to(u.arcsec)


def _detection_boundary(table):
    """``hpc_boundcc``, or from a detections table's ``contour`` SkyCoord polygons."""
    if "hpc_boundcc" in table.colnames or "contour" not in table.colnames:
        return _optional(table, "hpc_boundcc")
    return [u.Quantity([c.Tx, c.Ty]).T.to(u.arcsec) for c in table["contour"]]


def _column(table, name, default, n):
    return table[name] if name in table.colnames else np.full(n, default)


def _observatory(instrument, observatory):
    if observatory is not None:
        return observatory
    return _OBSERVATORIES.get(instrument.split("/")[0].strip().upper(), "")


def _empty_records():
    return _records_table({name: [] for name in HEK_FIELDS})


def to_hek_records(
    table,
    *,
    observatory=None,
    identifier=FRM_NAME,
    institute="",
    contact="",
    url="https://github.com/sunpy/sunpy-slic",
):
    """
    Make HEK feature/event records from a table of intervals (or detections).

    Parameters
    ----------
    table : `~astropy.table.QTable`
        From `sunpy_slic.sequence.feature_intervals`: ``feature``, ``start``, ``end`` and, where
        present, ``peak_time``, ``mean_probability`` (the record's ``event_probability``),
        ``peak_probability``, ``n_frames``, ``instrument``, ``wavelength`` (the last two, and
        ``observatory``, may instead be entries of the table's ``meta``, as in a table of
        `sunpy_slic.overlay.detections`). A row may also carry a
        position: ``hpc_x`` and ``hpc_y`` (Quantities) or a helioprojective ``center``
        `~astropy.coordinates.SkyCoord` (as `sunpy_slic.overlay.detections` gives, whose
        ``obstime`` then serves as the time when there is no ``start``/``end``), ``hpc_bbox``
        (WKT strings, or an (N, 4) Quantity of ``x_min, y_min, x_max, y_max``) and ``hpc_boundcc``
        (WKT strings, or per row an (M, 2) Quantity of boundary points); from a detections table
        they are made from its ``bottom_left``/``top_right`` corners and ``contour`` polygons.
    observatory : str, optional
        ``obs_observatory`` of every record; by default from the table's ``observatory`` column,
        else from the instrument's name where it is a known one (``SOT/NB``: ``Hinode``), else
        empty.
    identifier, institute, contact, url : str
        ``frm_identifier`` (who ran the method), ``frm_institute``, ``frm_contact`` and ``frm_url``.

    Returns
    -------
    `~astropy.table.QTable`
        One record per row, with the columns of `HEK_FIELDS` in order; ``event_type`` from
        `EVENT_TYPES`, ``frm_name`` `FRM_NAME`, ``frm_version`` the sunpy-slic version,
        ``frm_specificid`` unique per feature, instrument and start, ``frm_paramset`` the smoothing
        parameters (from the table's ``meta``), coordinates ``UTC-HPC-TOPO`` in arcsec (NaN where
        the table has no position). Times are UTC, to the millisecond.

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_slic.hek import to_hek_records
    >>> from sunpy_slic.sequence import feature_intervals, synthetic_sequence
    >>> timeline = [("sunspot", 20 * u.min), ("flare_ribbon", 15 * u.min)]
    >>> table = synthetic_sequence(timeline=timeline, jitter=0, seed=1)
    >>> records = to_hek_records(feature_intervals(table), observatory="Big Bear")
    >>> records["event_type"].tolist(), records["slic_feature"].tolist()
    (['SS', 'FL'], ['sunspot', 'flare_ribbon'])
    >>> records["event_starttime"][1].isot, str(records["obs_observatory"][1])
    ('2020-01-01T00:20:00.000', 'Big Bear')
    >>> float(records["hpc_x"][1].value)  # a whole-frame classification has no position
    nan
    """
    if not isinstance(table, Table):
        msg = (
            "table must be an astropy table of intervals (from feature_intervals), "
            f"got {type(table).__name__}"
        )
        raise TypeError(msg)
    if "feature" not in table.colnames:
        msg = "the table has no 'feature' column: give the intervals of sunpy_slic.sequence.feature_intervals"
        raise ValueError(msg)
    n = len(table)
    if n == 0:
        return _empty_records()
    features = [feature_name(str(f)) for f in table["feature"]]
    start, end, peak = _time_columns(table)
    start, end, peak = _ms(start), _ms(end), _ms(peak)
    # A detections table holds one map's channel in its meta (sunpy_slic.overlay.detections).
    instrument = np.asarray(_column(table, "instrument", table.meta.get("instrument") or "", n), dtype=str)
    if "observatory" in table.colnames and observatory is None:
        obs = np.asarray(table["observatory"], dtype=str)
    elif observatory is None and table.meta.get("observatory"):
        obs = np.full(n, str(table.meta["observatory"]))
    else:
        obs = np.array([_observatory(i, observatory) for i in instrument], dtype=str)
    if "wavelength" in table.colnames and isinstance(table["wavelength"], u.Quantity):
        wavelength = table["wavelength"].to(u.AA)
    elif isinstance(table.meta.get("wavelength"), u.Quantity):
        wavelength = u.Quantity(np.full(n, table.meta["wavelength"].to_value(u.AA)), u.AA)
    else:
        wavelength = u.Quantity(np.full(n, np.nan), u.AA)
    x, y = _positions(table, n)
    version = __version__
    smoothing = table.meta.get("smoothing")
    paramset = json.dumps(smoothing, sort_keys=True) if smoothing else ""
    n_frames = np.asarray(_column(table, "n_frames", 1, n), dtype=np.int64)
    prob = np.asarray(_column(table, "mean_probability", np.nan, n), dtype=np.float64)
    peak_p = np.asarray(_column(table, "peak_probability", np.nan, n), dtype=np.float64)
    channel = [
        f"{inst} {w:g} Angstrom".strip() if math.isfinite(w) else inst
        for inst, w in zip(instrument, wavelength.to_value(u.AA), strict=True)
    ]
    columns = {
        "event_type": [EVENT_TYPES[f] for f in features],
        "event_starttime": start,
        "event_endtime": end,
        "event_peaktime": peak,
        "event_coordsys": ["UTC-HPC-TOPO"] * n,
        "event_coordunit": ["arcsec"] * n,
        "event_coord1": x,
        "event_coord2": y,
        "hpc_x": x,
        "hpc_y": y,
        "hpc_bbox": _bbox_strings(_detection_bbox(table), n),
        "hpc_boundcc": _boundary_strings(_detection_boundary(table), n),
        "event_probability": prob,
        "event_description": [
            f"{DISPLAY_NAMES[f]} seen by sunpy-slic in {k} frame{'s' if k != 1 else ''} of {c or 'unknown'}"
            for f, k, c in zip(features, n_frames, channel, strict=True)
        ],
        "frm_name": [FRM_NAME] * n,
        "frm_identifier": [identifier] * n,
        "frm_institute": [institute] * n,
        "frm_contact": [contact] * n,
        "frm_url": [url] * n,
        "frm_humanflag": ["false"] * n,
        "frm_version": [version] * n,
        "frm_versionnumber": [_version_number(version)] * n,
        "frm_specificid": [
            f"{FRM_NAME}_{f}_{re.sub(r'[^A-Za-z0-9.-]+', '-', inst or 'unknown')}_{s}"
            for f, inst, s in zip(features, instrument, start.strftime("%Y%m%dT%H%M%S.%f"), strict=True)
        ],
        "frm_paramset": [paramset] * n,
        "obs_observatory": obs,
        "obs_instrument": instrument,
        "obs_channelid": channel,
        "obs_meanwavel": wavelength,
        "obs_wavelunit": ["Angstrom"] * n,
        "slic_feature": features,
        "slic_n_frames": n_frames,
        "slic_peak_probability": peak_p,
    }
    return _records_table(columns)


def _records_table(columns):
    """The records QTable from columns of Python or numpy values (strings, Times, floats)."""
    t = QTable()
    for name, kind in HEK_FIELDS.items():
        v = columns[name]
        if kind == "str":
            t[name] = np.asarray(v, dtype=str) if len(v) else np.array([], dtype="<U1")
        elif kind == "time":
            t[name] = v if isinstance(v, Time) else Time(v, format="isot", scale="utc")
        elif kind == "arcsec":
            t[name] = u.Quantity(np.asarray(v, dtype=np.float64), u.arcsec)
        elif kind == "wavelength":
            t[name] = v if isinstance(v, u.Quantity) else u.Quantity(np.asarray(v, dtype=np.float64), u.AA)
        elif kind == "float":
            t[name] = np.asarray(v, dtype=np.float64)
        else:
            t[name] = np.asarray(v, dtype=np.int64)
    return t


def _check_records(records):
    if not isinstance(records, Table):
        msg = f"records must be the table to_hek_records returns, got {type(records).__name__}"
        raise TypeError(msg)
    missing = [name for name in REQUIRED_FIELDS if name not in records.colnames]
    if missing:
        msg = f"the records have no {missing[0]!r} column; make them with to_hek_records"
        raise ValueError(msg)


def _plain(records):
    """The records as a list of dicts of JSON-ready values (strings, numbers, None)."""
    n = len(records)
    cols = {}
    for name, kind in HEK_FIELDS.items():
        if name not in records.colnames:
            continue
        col = records[name]
        if kind == "time":
            t = _ms(col)
            mask = (
                np.broadcast_to(np.asarray(t.mask, dtype=bool), t.shape)
                if t.masked
                else np.zeros(n, dtype=bool)
            )
            iso = (t.unmasked if t.masked else t).isot
            cols[name] = [None if m else str(s) for s, m in zip(np.atleast_1d(iso), mask, strict=True)]
        elif kind == "wavelength":
            units = records["obs_wavelunit"] if "obs_wavelunit" in records.colnames else ["Angstrom"] * n
            values = [q.to_value(u.Unit(str(unit))) for q, unit in zip(col, units, strict=True)]
            cols[name] = [None if not math.isfinite(v) else float(v) for v in values]
        elif kind in ("arcsec", "float"):
            v = col.to_value(u.arcsec) if kind == "arcsec" else np.asarray(col, dtype=np.float64)
            cols[name] = [None if not math.isfinite(x) else float(x) for x in v]
        elif kind == "int":
            cols[name] = [int(x) for x in col]
        else:
            cols[name] = [str(x) for x in col]
    return [{name: cols[name][i] for name in cols} for i in range(n)]


def write_hek_json(records, path):
    """
    Write HEK records to a JSON file, as the HEK's own query service returns them.

    The file holds ``{"result": [record, ...]}``, one object per record with the lower-case HEK
    parameter names as keys; times are ISO 8601 UTC strings, unknown values ``null``. It is
    written atomically (`sunpy_slic.atomic.atomic_write_bytes`).

    Parameters
    ----------
    records : `~astropy.table.QTable`
        From `to_hek_records`.
    path : str or `os.PathLike`
        The file to write.

    Returns
    -------
    `pathlib.Path`
        The file written.

    Examples
    --------
    >>> import tempfile, astropy.units as u
    >>> from sunpy_slic.hek import read_hek_json, to_hek_records, write_hek_json
    >>> from sunpy_slic.sequence import feature_intervals, synthetic_sequence
    >>> table = synthetic_sequence(timeline=[("filament", 30 * u.min)], seed=0)
    >>> records = to_hek_records(feature_intervals(table))
    >>> path = write_hek_json(records, tempfile.mkdtemp() + "/records.json")
    >>> back = read_hek_json(path)
    >>> str(back["event_type"][0]), bool((back["event_starttime"] == records["event_starttime"]).all())
    ('FI', True)
    """
    _check_records(records)
    text = json.dumps({"result": _plain(records)}, indent=1, allow_nan=False)
    path = Path(path)
    atomic_write_bytes(path, (text + "\n").encode())
    return path


def _parse(values, name, kind, path):
    """A column of ``kind`` from values as read (str, number or None)."""
    if kind == "time":
        missing = np.array([v in (None, "") for v in values], dtype=bool)
        if missing.any() and name in REQUIRED_FIELDS:
            i = int(np.flatnonzero(missing)[0])
            msg = f"{path}: record {i} has no value for the required field {name!r}"
            raise ValueError(msg)
        strings = [("2000-01-01T00:00:00.000" if m else str(v)) for v, m in zip(values, missing, strict=True)]
        try:
            t = Time(strings, scale="utc") if strings else Time([], format="isot", scale="utc")
        except ValueError as exc:
            msg = f"{path}: the field {name!r} holds a value that is not a time ({exc})"
            raise ValueError(msg) from None
        t = _ms(t)
        if missing.any():
            t = Time(t, copy=True)
            t[missing] = np.ma.masked
        return t
    if kind in ("arcsec", "wavelength", "float"):
        try:
            return [np.nan if v in (None, "") else float(v) for v in values]
        except (TypeError, ValueError):
            msg = f"{path}: the field {name!r} holds a value that is not a number"
            raise ValueError(msg) from None
    if kind == "int":
        try:
            return [0 if v in (None, "") else int(v) for v in values]
        except (TypeError, ValueError):
            msg = f"{path}: the field {name!r} holds a value that is not an integer"
            raise ValueError(msg) from None
    return ["" if v is None else str(v) for v in values]


def _from_dicts(items, path):
    """The records table from a list of {field: value} dicts read from ``path``."""
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            msg = f"{path}: record {i} is a {type(item).__name__}, not an object of HEK fields"
            raise ValueError(msg)
        absent = [name for name in REQUIRED_FIELDS if name not in {k.lower() for k in item}]
        if absent:
            msg = f"{path}: record {i} has no {absent[0]!r} field, which every HEK record needs"
            raise ValueError(msg)
    items = [{k.lower(): v for k, v in item.items()} for item in items]
    columns = {}
    for name, kind in HEK_FIELDS.items():
        columns[name] = _parse([item.get(name) for item in items], name, kind, path)
    units = [(u.Unit(w) if w else u.AA) for w in columns["obs_wavelunit"]]
    try:
        wl = [(v * unit).to_value(u.AA) for v, unit in zip(columns["obs_meanwavel"], units, strict=True)]
    except u.UnitConversionError:
        msg = f"{path}: obs_wavelunit holds a unit that is not a length"
        raise ValueError(msg) from None
    columns["obs_meanwavel"] = u.Quantity(np.asarray(wl, dtype=np.float64), u.AA)
    return _records_table(columns)


def read_hek_json(path):
    """
    Read HEK records from a JSON file written by `write_hek_json` (or saved from the HEK).

    Parameters
    ----------
    path : str or `os.PathLike`
        A JSON file holding ``{"result": [record, ...]}`` or a list of records.

    Returns
    -------
    `~astropy.table.QTable`
        The records, with the columns of `HEK_FIELDS` (fields the file lacks are empty, NaN or
        masked); what `to_hek_records` made, equal in times, quantities and strings.

    Raises
    ------
    ValueError
        If the file is not JSON, or a record lacks one of `REQUIRED_FIELDS` (the message names
        the field and the file).

    Examples
    --------
    >>> import json, tempfile
    >>> from sunpy_slic.hek import read_hek_json
    >>> path = tempfile.mkdtemp() + "/bad.json"
    >>> with open(path, "w") as f:
    ...     json.dump({"result": [{"event_type": "SS"}]}, f)
    >>> read_hek_json(path)
    Traceback (most recent call last):
    ...
    ValueError: .../bad.json: record 0 has no 'event_starttime' field, which every HEK record needs
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        msg = f"{path} is not a JSON file of HEK records ({exc})"
        raise ValueError(msg) from None
    items = data.get("result") if isinstance(data, dict) else data
    if not isinstance(items, list):
        msg = f"{path}: expected a list of records or an object with a 'result' list"
        raise ValueError(msg)
    return _from_dicts(items, path)


def _sub(parent, tag, text=None, **attrib):
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrib.items()})
    if text is not None:
        el.text = str(text)
    return el


def _voevent(plain, written):
    """One VOEvent 2.0 element for one record."""
    kind = plain["event_type"]
    ev = ET.Element(
        _VOEVENT,
        {"ivorn": f"{_IVORN}#{plain.get('frm_specificid', '')}", "role": "observation", "version": "2.0"},
    )
    who = _sub(ev, "Who")
    _sub(who, "AuthorIVORN", _IVORN)
    _sub(who, "Date", written)
    author = _sub(who, "Author")
    _sub(author, "shortName", plain.get("frm_identifier", ""))
    if plain.get("frm_contact"):
        _sub(author, "contactEmail", plain["frm_contact"])
    what = _sub(ev, "What")
    for name, field_kind in HEK_FIELDS.items():
        if name not in plain:
            continue
        value = plain[name]
        attrib = {"name": name, "value": "" if value is None else str(value), "dataType": "string"}
        if field_kind in ("arcsec", "float", "wavelength"):
            attrib.update(value="" if value is None else repr(float(value)), dataType="float")
        elif field_kind == "int":
            attrib["dataType"] = "int"
        if field_kind == "arcsec":
            attrib["unit"] = "arcsec"
        elif field_kind == "wavelength":
            attrib["unit"] = plain.get("obs_wavelunit") or "Angstrom"
        _sub(what, "Param", **attrib)
    where = _sub(ev, "WhereWhen")
    loc = _sub(where, "ObsDataLocation")
    _sub(loc, "ObservatoryLocation", id=plain.get("obs_observatory") or "unknown")
    obs = _sub(loc, "ObservationLocation")
    _sub(obs, "AstroCoordSystem", id=plain.get("event_coordsys", "UTC-HPC-TOPO"))
    coords = _sub(obs, "AstroCoords", coord_system_id=plain.get("event_coordsys", "UTC-HPC-TOPO"))
    when = plain.get("event_peaktime") or plain["event_starttime"]
    _sub(_sub(_sub(coords, "Time"), "TimeInstant"), "ISOTime", when)
    if plain.get("hpc_x") is not None and plain.get("hpc_y") is not None:
        value = _sub(_sub(coords, "Position2D", unit="arcsec"), "Value2")
        _sub(value, "C1", repr(plain["hpc_x"]))
        _sub(value, "C2", repr(plain["hpc_y"]))
    how = _sub(ev, "How")
    _sub(
        how,
        "Description",
        f"{FRM_NAME} {plain.get('frm_version', '')}: classification of "
        f"{plain.get('obs_instrument') or 'unknown'} images over time",
    )
    why = _sub(ev, "Why")
    inference = {"probability": repr(plain["event_probability"])} if plain.get("event_probability") else {}
    inf = _sub(why, "Inference", **inference)
    _sub(inf, "Name", DISPLAY_NAMES.get(plain.get("slic_feature", ""), kind))
    _sub(inf, "Concept", f"{kind}: {EVENT_TYPE_NAMES.get(kind, kind)}")
    return ev


def write_voevent(records, path):
    """
    Write HEK records as VOEvent 2.0 XML.

    Every record becomes one ``<voe:VOEvent>`` with the usual sections: ``Who`` (the method and its
    author), ``What`` (every HEK parameter as a ``<Param name=... value=...>``, the part
    `read_voevent` reads back), ``WhereWhen`` (the peak time and, where known, the helioprojective
    position), ``How`` (the method) and ``Why`` (an ``Inference`` with the event probability and
    the HEK concept, e.g. ``FL: Flare``). They are gathered under one ``<VOEvents>`` root element
    (a file of several events), from which each can be taken out on its own for submission. The
    file is written atomically.

    Parameters
    ----------
    records : `~astropy.table.QTable`
        From `to_hek_records`.
    path : str or `os.PathLike`
        The file to write.

    Returns
    -------
    `pathlib.Path`
        The file written.

    Examples
    --------
    >>> import tempfile, astropy.units as u
    >>> from sunpy_slic.hek import read_voevent, to_hek_records, write_voevent
    >>> from sunpy_slic.sequence import feature_intervals, synthetic_sequence
    >>> table = synthetic_sequence(timeline=[("prominence", 30 * u.min)], seed=0)
    >>> records = to_hek_records(feature_intervals(table))
    >>> path = write_voevent(records, tempfile.mkdtemp() + "/records.xml")
    >>> "<Concept>FI: Filament</Concept>" in path.read_text()
    True
    >>> read_voevent(path)["slic_feature"].tolist()
    ['prominence']
    """
    _check_records(records)
    written = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("VOEvents", {"generator": FRM_NAME})
    for plain in _plain(records):
        root.append(_voevent(plain, written))
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    path = Path(path)
    atomic_write_bytes(path, data + b"\n")
    return path


def read_voevent(path):
    """
    Read HEK records from VOEvent XML written by `write_voevent`.

    The records are read from the ``<Param>`` elements of each VOEvent's ``What`` section. A file
    holding one ``<voe:VOEvent>`` as its root element is read too.

    Parameters
    ----------
    path : str or `os.PathLike`
        The XML file.

    Returns
    -------
    `~astropy.table.QTable`
        As `read_hek_json` returns.

    Raises
    ------
    ValueError
        If the file is not XML, holds no VOEvent, or a record lacks one of `REQUIRED_FIELDS` (the
        message names the field and the file).

    Examples
    --------
    >>> import tempfile
    >>> from sunpy_slic.hek import read_voevent
    >>> path = tempfile.mkdtemp() + "/bad.xml"
    >>> with open(path, "w") as f:
    ...     _ = f.write('<VOEvent><What><Param name="event_type" value="SS"/></What></VOEvent>')
    >>> read_voevent(path)
    Traceback (most recent call last):
    ...
    ValueError: .../bad.xml: record 0 has no 'event_starttime' field, which every HEK record needs
    """
    path = Path(path)
    try:
        root = ET.parse(os.fspath(path)).getroot()
    except ET.ParseError as exc:
        msg = f"{path} is not an XML file of VOEvents ({exc})"
        raise ValueError(msg) from None
    events = [el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "VOEvent"]
    if not events and root.tag.rsplit("}", 1)[-1] != "VOEvents":
        msg = f"{path} holds no VOEvent element"
        raise ValueError(msg)
    items = []
    for ev in events:
        params = {}
        for what in ev.findall("What"):
            for p in what.iter("Param"):
                if "name" in p.attrib:
                    params[p.attrib["name"].lower()] = p.attrib.get("value", "")
        items.append(params)
    return _from_dicts(items, path)
