import json
import pickle
import struct

import pytest
import torch

from sunpy_slic.exceptions import SlicWeightsError
from sunpy_slic.features import FEATURES
from sunpy_slic.model import SlicNet
from sunpy_slic.preprocessing import PreprocessSpec
from sunpy_slic.weights import load_model, read_weights, save_weights, tensor_sha256

SPEC = PreprocessSpec(image_size=32)


def _rewrite_metadata(path, out, edit):
    """Rewrite a safetensors file's sunpy-slic metadata with ``edit(dict)``, keeping the tensors."""
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["sunpy_slic"])
    edit(meta)
    header["__metadata__"]["sunpy_slic"] = json.dumps(meta)
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    out.write_bytes(struct.pack("<Q", len(new)) + new + data[8 + n :])


def test_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = SlicNet(image_size=32).eval()
    path = tmp_path / "w.safetensors"
    meta = save_weights(model, path, preprocess=SPEC, provenance={"data": "test"}, metrics={"accuracy": 0.5})
    loaded = load_model(path, device="cpu")
    x = torch.randn(4, 1, 32, 32)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))
    m = loaded.slic_meta
    assert m.features == FEATURES
    assert m.preprocess == SPEC
    assert m.model == model.config
    assert m.provenance["data"] == "test"
    assert "torch" in m.provenance
    assert "date" in m.provenance
    assert m.metrics == {"accuracy": 0.5}
    assert m.sha256 == meta.sha256 == tensor_sha256(read_weights(path)[0])


def test_file_url_and_float16(tmp_path):
    model = SlicNet(image_size=32).eval()
    path = tmp_path / "half.safetensors"
    save_weights(model, path, preprocess=SPEC, dtype=torch.float16)
    assert path.stat().st_size < 0.6 * 4 * sum(p.numel() for p in model.parameters())
    loaded = load_model(path.as_uri(), device="cpu")
    x = torch.randn(2, 1, 32, 32)
    with torch.inference_mode():
        assert torch.allclose(model(x), loaded(x), atol=1e-2)


def test_tampered_tensors_are_detected(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(SlicNet(image_size=32), path, preprocess=SPEC)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # flip bits in the last tensor
    bad = tmp_path / "tampered.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(SlicWeightsError, match="corrupt or was modified"):
        load_model(bad)


def test_other_features_are_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(SlicNet(image_size=32), path, preprocess=SPEC)
    bad = tmp_path / "other.safetensors"
    _rewrite_metadata(path, bad, lambda m: m.update(features=["a", "b", "c", "d", "e"]))
    with pytest.raises(SlicWeightsError, match=r"trained for features \['a'"):
        load_model(bad)


def test_wrong_shapes_are_refused(tmp_path):
    path = tmp_path / "w.safetensors"
    save_weights(SlicNet(image_size=32), path, preprocess=SPEC)
    bad = tmp_path / "paper.safetensors"
    # Claim the tensors belong to a paper-head model: the classifier shapes cannot match.
    _rewrite_metadata(path, bad, lambda m: m["model"].update(head="paper", image_size=256))
    with pytest.raises(SlicWeightsError, match="do not match"):
        load_model(bad)


def test_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(SlicWeightsError, match="never unpickles"):
        load_model(evil)
    torch_zip = tmp_path / "legacy.pth"
    torch.save({"w": torch.zeros(1)}, torch_zip)
    with pytest.raises(SlicWeightsError, match="never unpickles"):
        load_model(torch_zip)
    assert not marker.exists()


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(SlicWeightsError, match="directory"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="never downloads"):
        load_model("https://example.org/w.safetensors")
    with pytest.raises(TypeError, match="file path"):
        load_model(42)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(SlicWeightsError, match="not a"):
        load_model(junk)
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, plain)
    with pytest.raises(SlicWeightsError, match="without sunpy-slic metadata"):
        load_model(plain)


def test_save_checks_arguments(tmp_path):
    with pytest.raises(TypeError, match="SlicNet"):
        save_weights(torch.nn.Linear(2, 2), tmp_path / "x.safetensors", preprocess=SPEC)
    with pytest.raises(ValueError, match="64-pixel images"):
        save_weights(SlicNet(image_size=64), tmp_path / "x.safetensors", preprocess=SPEC)
    assert not list(tmp_path.iterdir())


def test_header_length_starting_with_pickle_magic_is_still_safetensors(tmp_path):
    from safetensors.torch import save

    # Pad the metadata until the header length's low byte is 0x80 (pickle's first byte) or 'P'.
    model = SlicNet(image_size=32)
    path = tmp_path / "w.safetensors"
    save_weights(model, path, preprocess=SPEC)
    tensors, meta = read_weights(path)
    for target in (0x80, ord("P")):
        pad = 0
        while True:
            data = save(tensors, metadata={"sunpy_slic": meta.to_json(), "pad": "x" * pad})
            if data[0] == target:
                break
            pad += 1
        odd = tmp_path / f"odd{target}.safetensors"
        odd.write_bytes(data)
        assert read_weights(odd)[1].sha256 == meta.sha256


def test_bundled_weights_match_their_pinned_hash_and_describe_themselves():
    import hashlib

    from sunpy_slic.weights import DEFAULT_WEIGHTS, default_weights_path

    path = default_weights_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DEFAULT_WEIGHTS["sha256"]
    assert path.stat().st_size <= 25e6
    meta = load_model(device="cpu").slic_meta
    assert meta.model["head"] == "compact"
    assert meta.preprocess.image_size == meta.model["image_size"]
    assert meta.provenance["data"]["synthetic_frames_per_class"] > 0
    assert meta.metrics["test_synthetic_classic"]["accuracy"] >= 0.95
    assert 0 < meta.metrics["test_synthetic_physical"]["accuracy"] <= 1
    lineage = meta.extra["lineage"]
    stages = [1, 2, 3, 4, 5, 6, "6a", 7, "7a", "texture test", "artefact masking"]
    stages += [9, "credibility bank", "texture test"]  # v2.4: stage 9 trained with the masks on
    stages += [10, "10a", "credibility bank", "texture test"]  # v2.5: full-disk scales, averaged with v2.4
    stages += [11, "11a", "credibility bank", "texture test"]  # v2.6: frames of 128-512 px, 0.3 of it
    assert [stage["stage"] for stage in lineage] == stages
    stage11, average = lineage[-4], lineage[-3]
    flags = ["--mask-artefacts", "--n-focus-frames", "--n-band-frames 480 --band 1.5 5"]
    flags += ["--n-size-frames 480 --frame-sizes 128 192 256 384 512"]
    for flag in flags:
        assert flag in stage11["command"]
    assert average["command"].startswith("python scripts/average_weights.py V25.safetensors STAGE11")
    assert average["alpha"] == 0.3
    assert lineage[-2]["command"].startswith("python scripts/add_credibility.py")
    assert lineage[-1]["command"].startswith("python scripts/add_texture_statistics.py")
    assert meta.preprocess.mask_artefacts is True
    assert meta.provenance["data"]["mask_artefacts"] is True
    assert meta.provenance["data"]["focus_frames"]["features"] == ["flare_ribbon", "quiet_sun"]
    assert meta.provenance["data"]["band_frames"] == {
        "per_feature": 480,
        "plate_scales_arcsec_per_pixel": [1.5, 5.0],
    }
    assert meta.provenance["data"]["size_frames"] == {
        "per_feature": 480,
        "frame_sides_pixels": [128, 192, 256, 384, 512],
    }
    assert meta.extra["ood"]["texture"]["layer"] == 20
    assert "training_domain" in meta.extra
    assert meta.extra["credibility"]["counts"] == [400] * 5
    assert meta.extra["credibility"]["k"] == 10  # chosen on validation (select_credibility_k.py)


def test_update_weights_metadata_merges_and_keeps_the_tensors(tmp_path):
    from sunpy_slic.weights import update_weights_metadata

    torch.manual_seed(0)
    path = tmp_path / "w.safetensors"
    old = save_weights(
        SlicNet(image_size=32),
        path,
        preprocess=SPEC,
        provenance={"data": "test", "command": ""},
        metrics={"validation": {"accuracy": 0.5}},
        extra={"calibration": {"temperature": 1.2}},
    )
    out = tmp_path / "annotated.safetensors"
    update_weights_metadata(
        path,
        out,
        metrics={"test": {"accuracy": 0.9}},
        extra={"lineage": [{"stage": 1}]},
        provenance={"command": "python train.py"},
    )
    tensors_before, _ = read_weights(path)
    tensors_after, meta = read_weights(out)
    assert meta.sha256 == old.sha256
    assert all(torch.equal(tensors_before[k], tensors_after[k]) for k in tensors_before)
    assert meta.metrics == {"validation": {"accuracy": 0.5}, "test": {"accuracy": 0.9}}
    assert meta.extra["calibration"] == {"temperature": 1.2}
    assert meta.extra["lineage"] == [{"stage": 1}]
    assert meta.provenance["data"] == "test"
    assert meta.provenance["command"] == "python train.py"
    replaced = update_weights_metadata(
        out, out, metrics={"only": {"accuracy": 1.0}}, extra={"note": "x"}, replace=["metrics"]
    )
    assert replaced.metrics == {"only": {"accuracy": 1.0}}
    assert replaced.extra["lineage"] == [{"stage": 1}]  # merged, not replaced: kept
    assert replaced.extra["note"] == "x"
    with pytest.raises(ValueError, match="replace names what to replace"):
        update_weights_metadata(path, out, metrics={}, replace=["tensors"])
    with pytest.raises(TypeError, match="metrics must be a dict"):
        update_weights_metadata(path, out, metrics=[("test", 1)])
