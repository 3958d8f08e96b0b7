"""
HEK records: event types, fields, JSON and VOEvent round trips, positions, bad files.
"""

import json
import warnings
import xml.etree.ElementTree as ET

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.time import Time
from sunpy.coordinates import Helioprojective

from sunpy_slic.features import FEATURES
from sunpy_slic.hek import (
    EVENT_TYPES,
    FRM_NAME,
    HEK_FIELDS,
    REQUIRED_FIELDS,
    read_hek_json,
    read_voevent,
    to_hek_records,
    write_hek_json,
    write_voevent,
)
from sunpy_slic.sequence import feature_intervals, smooth_sequence, synthetic_sequence

VOE = "{http://www.ivoa.net/xml/VOEvent/v2.0}VOEvent"


@pytest.fixture(scope="module")
def intervals():
    timeline = [(f, 20 * u.min) for f in FEATURES]
    table = synthetic_sequence(timeline=timeline, instrument="SOT/NB", seed=4)
    return feature_intervals(smooth_sequence(table), include_quiet_sun=True)


def assert_same(a, b):
    """Two records tables are equal: times, quantities (NaN == NaN), numbers and strings."""
    assert a.colnames == b.colnames == list(HEK_FIELDS)
    assert len(a) == len(b)
    for name, kind in HEK_FIELDS.items():
        x, y = a[name], b[name]
        if kind == "time":
            assert isinstance(y, Time)
            mx = np.asarray(x.mask) if x.masked else np.zeros(len(x), bool)
            my = np.asarray(y.mask) if y.masked else np.zeros(len(y), bool)
            assert (mx == my).all(), name
            ok = ~mx
            assert ((x.unmasked if x.masked else x)[ok] == (y.unmasked if y.masked else y)[ok]).all(), name
        elif kind in ("arcsec", "wavelength"):
            assert y.unit == x.unit, name
            np.testing.assert_array_equal(x.value, y.value, err_msg=name)
        elif kind in ("float", "int"):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
            assert np.asarray(x).dtype == np.asarray(y).dtype, name
        else:
            assert np.asarray(x).tolist() == np.asarray(y).tolist(), name


def test_event_types_and_fields(intervals):
    records = to_hek_records(intervals)
    assert records.colnames == list(HEK_FIELDS)
    assert records["slic_feature"].tolist() == list(FEATURES)
    assert records["event_type"].tolist() == ["FI", "FL", "FI", "NR", "SS"]
    assert {f: t for f, t in zip(FEATURES, ["FI", "FL", "FI", "NR", "SS"], strict=True)} == EVENT_TYPES
    assert set(records["frm_name"]) == {FRM_NAME}
    assert set(records["obs_observatory"]) == {"Hinode"}  # from the instrument name SOT/NB
    assert set(records["obs_instrument"]) == {"SOT/NB"}
    assert records["obs_channelid"][0] == "SOT/NB 6563 Angstrom"
    assert records["obs_meanwavel"].to_value(u.AA).tolist() == [6563.0] * 5
    assert set(records["event_coordsys"]) == {"UTC-HPC-TOPO"}
    assert set(records["event_coordunit"]) == {"arcsec"}
    assert np.isnan(records["hpc_x"].value).all()  # a whole-frame classification has no position
    assert set(records["hpc_bbox"]) == {""}
    for field, column in (
        ("event_starttime", "start"),
        ("event_endtime", "end"),
        ("event_peaktime", "peak_time"),
    ):
        assert (abs(records[field] - intervals[column]) <= 0.5 * u.ms).all()  # to the millisecond
    np.testing.assert_allclose(records["event_probability"], intervals["mean_probability"], rtol=1e-6)
    assert records["slic_n_frames"].tolist() == intervals["n_frames"].tolist()
    assert len(set(records["frm_specificid"])) == 5
    assert json.loads(records["frm_paramset"][0])["method"] == "hmm-viterbi"
    assert records["frm_version"][0]
    assert "Flare ribbon seen by sunpy-slic in" in records["event_description"][1]


def test_json_round_trip(intervals, tmp_path):
    records = to_hek_records(intervals, identifier="tester", contact="me@example.org")
    path = write_hek_json(records, tmp_path / "records.json")
    assert path == tmp_path / "records.json"
    assert [p.name for p in tmp_path.iterdir()] == ["records.json"]  # no temporary file left
    data = json.loads(path.read_text())
    assert set(data) == {"result"}
    first = data["result"][0]
    assert first["event_type"] == "FI"
    assert first["hpc_x"] is None
    assert first["event_starttime"] == records["event_starttime"][0].isot
    assert_same(records, read_hek_json(path))


def test_voevent_round_trip_and_structure(intervals, tmp_path):
    records = to_hek_records(intervals)
    path = write_voevent(records, tmp_path / "records.xml")
    root = ET.parse(path).getroot()
    events = root.findall(VOE)
    assert len(events) == 5
    ev = events[1]
    assert [child.tag for child in ev] == ["Who", "What", "WhereWhen", "How", "Why"]
    assert ev.attrib["role"] == "observation"
    assert ev.attrib["version"] == "2.0"
    params = {p.attrib["name"]: p.attrib for p in ev.find("What").iter("Param")}
    assert set(params) == set(HEK_FIELDS)
    assert params["event_type"]["value"] == "FL"
    assert params["obs_meanwavel"]["unit"] == "Angstrom"
    assert ev.find("Why/Inference/Concept").text == "FL: Flare"
    assert float(ev.find("Why/Inference").attrib["probability"]) == pytest.approx(
        records["event_probability"][1]
    )
    assert ev.find("WhereWhen/ObsDataLocation/ObservationLocation/AstroCoords/Time/TimeInstant/ISOTime").text
    assert_same(records, read_voevent(path))


def test_positions_and_polygons(tmp_path):
    t = QTable()
    t["feature"] = ["sunspot", "filament"]
    t["start"] = Time(["2021-01-01T00:00:00.123", "2021-01-01T01:00:00"])
    t["end"] = Time(["2021-01-01T00:30:00", "2021-01-01T01:00:00"])
    t["hpc_x"] = [100.5, -200.0] * u.arcsec
    t["hpc_y"] = [0.1, 3.0] * u.arcmin
    t["hpc_bbox"] = [[90, -10, 110, 20], [-210, 170, -190, 190]] * u.arcsec
    t["hpc_boundcc"] = [[[90, -10], [110, -10], [100, 20]] * u.arcsec, np.zeros((0, 2))]
    records = to_hek_records(t)
    assert records["hpc_y"].to_value(u.arcsec).tolist() == [6.0, 180.0]
    assert records["hpc_bbox"][0] == "POLYGON((90 -10,110 -10,110 20,90 20,90 -10))"
    assert records["hpc_boundcc"].tolist() == ["POLYGON((90 -10,110 -10,100 20,90 -10))", ""]
    assert records["event_peaktime"][0] == records["event_starttime"][0]
    assert records["obs_observatory"][0] == ""  # no instrument known
    for write, read in ((write_hek_json, read_hek_json), (write_voevent, read_voevent)):
        assert_same(records, read(write(records, tmp_path / f"r.{write.__name__}")))


def test_detections_with_a_center_skycoord():
    frame = Helioprojective(observer="earth", obstime="2022-05-01T12:00:00")
    t = QTable()
    t["feature"] = ["sunspot", "flare_ribbon"]
    t["center"] = SkyCoord([300, -400] * u.arcsec, [-100, 250] * u.arcsec, frame=frame)
    t["peak_probability"] = [0.9, 0.8]
    t["mean_probability"] = [0.7, 0.6]
    records = to_hek_records(t, observatory="BBSO")
    assert records["hpc_x"].to_value(u.arcsec).tolist() == [300, -400]
    assert records["hpc_y"].to_value(u.arcsec).tolist() == [-100, 250]
    assert (records["event_starttime"] == Time("2022-05-01T12:00:00")).all()
    assert records["event_type"].tolist() == ["SS", "FL"]
    assert set(records["obs_observatory"]) == {"BBSO"}


def test_empty_records_round_trip(tmp_path):
    table = synthetic_sequence(timeline=[("quiet_sun", 30 * u.min)], seed=0)
    records = to_hek_records(feature_intervals(table))  # quiet Sun left out: no intervals
    assert len(records) == 0
    assert records.colnames == list(HEK_FIELDS)
    assert len(read_hek_json(write_hek_json(records, tmp_path / "e.json"))) == 0
    assert len(read_voevent(write_voevent(records, tmp_path / "e.xml"))) == 0


def test_hek_style_json_is_read(tmp_path):
    # Upper-case keys, a bare list and missing optional fields, as other tools write them.
    item = {
        "EVENT_TYPE": "SS",
        "Event_StartTime": "2011-10-08T11:15:33",
        "event_endtime": "2011-10-08T11:20:00",
        "event_coordsys": "UTC-HPC-TOPO",
        "event_coordunit": "arcsec",
        "frm_name": "someone",
        "obs_observatory": "Hinode",
        "obs_instrument": "SOT",
        "hpc_x": -350.0,
        "obs_meanwavel": 557.6,
        "obs_wavelunit": "nm",
    }
    path = tmp_path / "hek.json"
    path.write_text(json.dumps([item]))
    r = read_hek_json(path)
    assert r["event_starttime"][0].isot == "2011-10-08T11:15:33.000"
    assert r["hpc_x"][0] == -350 * u.arcsec
    assert np.isnan(r["hpc_y"][0].value)
    assert r["obs_meanwavel"][0].to_value(u.AA) == pytest.approx(5576)
    assert r["event_peaktime"].masked
    assert r["slic_feature"][0] == ""


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_missing_required_field(intervals, tmp_path, field):
    records = to_hek_records(intervals[:1])
    path = write_hek_json(records, tmp_path / "r.json")
    data = json.loads(path.read_text())
    del data["result"][0][field]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=rf"r\.json: record 0 has no '{field}' field"):
        read_hek_json(path)
    xml = write_voevent(records, tmp_path / "r.xml")
    tree = ET.parse(xml)
    what = tree.getroot().find(VOE).find("What")
    what.remove(next(p for p in what.iter("Param") if p.attrib["name"] == field))
    tree.write(xml)
    with pytest.raises(ValueError, match=rf"r\.xml: record 0 has no '{field}' field"):
        read_voevent(xml)


def test_bad_files_and_values(tmp_path, intervals):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json is not a JSON file"):
        read_hek_json(bad)
    bad.write_text(json.dumps({"result": 5}))
    with pytest.raises(ValueError, match="expected a list of records"):
        read_hek_json(bad)
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_text("<VOEvents><oops")
    with pytest.raises(ValueError, match=r"bad\.xml is not an XML file"):
        read_voevent(bad_xml)
    bad_xml.write_text("<html/>")
    with pytest.raises(ValueError, match="holds no VOEvent"):
        read_voevent(bad_xml)
    path = write_hek_json(to_hek_records(intervals[:1]), tmp_path / "t.json")
    data = json.loads(path.read_text())
    data["result"][0]["event_starttime"] = "yesterday"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="'event_starttime' holds a value that is not a time"):
        read_hek_json(path)
    data["result"][0]["event_starttime"] = None
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="no value for the required field 'event_starttime'"):
        read_hek_json(path)
    with pytest.raises(TypeError, match="records must be"):
        write_hek_json([1, 2], tmp_path / "x.json")
    with pytest.raises(TypeError, match="astropy table of intervals"):
        to_hek_records({"feature": ["sunspot"]})
    with pytest.raises(ValueError, match="no start and end times"):
        to_hek_records(QTable({"feature": ["sunspot"]}))
    with pytest.raises(ValueError, match="unknown feature"):
        to_hek_records(
            QTable({"feature": ["coronal_hole"], "start": Time(["2020-01-01"]), "end": Time(["2020-01-01"])})
        )


def test_detections_table_to_hek_records_round_trip(tmp_path):
    """#13: regions from `detections` become HEK records with their bbox and contour polygon."""
    import numpy as np
    import sunpy.map
    from sunpy.map.header_helper import make_fitswcs_header

    from sunpy_slic.overlay import detections

    frame = Helioprojective(observer="earth", obstime="2022-05-01T12:00:00")
    centre = SkyCoord(100 * u.arcsec, -50 * u.arcsec, frame=frame)
    p = np.zeros((12, 12), dtype=np.float32)
    p[3:6, 4:8] = 0.9
    pmap = sunpy.map.Map(p, make_fitswcs_header(p, centre, scale=[8, 8] * u.arcsec / u.pix))
    pmap.meta["slicfeat"] = "sunspot"
    found = detections({"sunspot": pmap})
    records = to_hek_records(found)
    assert records["event_type"].tolist() == ["SS"]
    assert records["hpc_bbox"][0].startswith("POLYGON((")
    assert records["hpc_boundcc"][0].startswith("POLYGON((")
    # the box spans the 4 x 3 pixel region (8 arcsec pixels, edges included)
    numbers = [float(v) for v in records["hpc_bbox"][0][len("POLYGON((") : -2].replace(",", " ").split()]
    xs, ys = numbers[0::2], numbers[1::2]
    assert max(xs) - min(xs) == pytest.approx(32, abs=0.5)
    assert max(ys) - min(ys) == pytest.approx(24, abs=0.5)
    assert records["hpc_x"][0].to_value(u.arcsec) == pytest.approx(found["center"][0].Tx.to_value(u.arcsec))
    for write, read in ((write_hek_json, read_hek_json), (write_voevent, read_voevent)):
        assert_same(records, read(write(records, tmp_path / f"d.{write.__name__}")))


def test_detections_carry_the_source_channel_into_hek_records(tiny_weights):
    """Records of detections name the instrument, observatory and wavelength of the source map."""
    import sunpy.map
    from sunpy.map.header_helper import make_fitswcs_header

    from sunpy_slic.overlay import detections, probability_map
    from sunpy_slic.weights import load_model

    frame = Helioprojective(observer="earth", obstime="2022-05-01T12:00:00")
    data = np.random.default_rng(0).normal(100, 5, (96, 96)).astype(np.float32)
    header = make_fitswcs_header(
        data, SkyCoord(300 * u.arcsec, 200 * u.arcsec, frame=frame), scale=[1, 1] * u.arcsec / u.pix
    )
    header.update({"instrume": "NSO-GONG", "obsrvtry": "NSO", "wavelnth": 656.28, "waveunit": "nm"})
    model = load_model(tiny_weights, device="cpu")
    maps = probability_map(sunpy.map.Map(data, header), model=model, progress=False)
    found = detections(maps, threshold=1e-6)
    assert len(found)
    assert found.meta["instrument"] == "NSO-GONG"
    assert found.meta["wavelength"].to_value(u.AA) == pytest.approx(6562.8)
    records = to_hek_records(found)
    assert set(records["obs_instrument"]) == {"NSO-GONG"}
    assert set(records["obs_observatory"]) == {"NSO"}
    assert records["obs_meanwavel"][0].to_value(u.AA) == pytest.approx(6562.8)
    # A map without these keywords leaves them empty, as before.
    for key in ("instrume", "obsrvtry", "wavelnth", "waveunit"):
        del header[key]
    bare = to_hek_records(
        detections(probability_map(sunpy.map.Map(data, header), model=model, progress=False), threshold=1e-6)
    )
    assert set(bare["obs_instrument"]) == {""}
    assert np.isnan(bare["obs_meanwavel"][0].to_value(u.AA))


def test_hinode_records_have_the_wavelength_sunpy_reads_from_wave(tiny_weights):
    """
    A Hinode/SOT frame has no WAVELNTH, only WAVE = 'TF Fe I 5576'; sunpy reads 5576 Å from it.
    The probability maps keep sunpy's reading (SRCINSTR, SRCOBSRV, SRCWAVLA), so records made in
    Python name the channel as the command line's do (their observatory and wavelength were empty).
    """
    import sunpy.map

    from sunpy_slic.data import sample_files
    from sunpy_slic.overlay import detections, probability_map
    from sunpy_slic.weights import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's notes on the Hinode header
        smap = sunpy.map.Map(sample_files()[0])
    assert "wavelnth" not in smap.meta or smap.meta["wavelnth"] is None
    maps = probability_map(smap, model=load_model(tiny_weights, device="cpu"), progress=False)
    assert maps["sunspot"].meta["srcwavla"] == pytest.approx(5576.0)
    assert maps["sunspot"].meta["srcobsrv"] == "Hinode"
    found = detections(maps, threshold=1e-6)
    assert len(found)
    records = to_hek_records(found)
    assert set(records["obs_instrument"]) == {"SOT/NB"}
    assert set(records["obs_observatory"]) == {"Hinode"}
    assert records["obs_meanwavel"][0].to_value(u.AA) == pytest.approx(5576.0)
