"""
Conversion of the original Slic weights: the converted SlicNet computes the original's function.

The original forward pass (``model.py`` of github.com/bionictoucan/Slic) is re-implemented in
`sunpy_slic.legacy.original_forward`: layer1…layer8 with pools after layers 2, 4, 6 and 8, then
layer8 twice more and a pool, then the classifier. The original network holds 0.6 GB of weights,
so the files are written to RAM (``/dev/shm``) where there is one.
"""

import pickle
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

from sunpy_slic.exceptions import SlicWeightsError
from sunpy_slic.legacy import (
    convert_legacy,
    legacy_state_dict_to_slicnet,
    original_forward,
    random_legacy_state_dict,
)
from sunpy_slic.weights import load_model


@pytest.fixture(scope="module")
def converted():
    shm = Path("/dev/shm")
    tmp = Path(tempfile.mkdtemp(prefix="slic-legacy-", dir=shm if shm.is_dir() else None))
    try:
        state = random_legacy_state_dict(seed=3)
        pth = tmp / "sol_clf.pth"
        torch.save(state, pth)
        out = tmp / "slic_original.safetensors"
        meta = convert_legacy(pth, out)
        model = load_model(out, device="cpu")
        yield state, model, meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_converted_weights_give_the_original_logits(converted):
    state, model, meta = converted
    assert model.head == "paper"
    assert model.slic_meta.sha256 == meta.sha256
    x = torch.randn(2, 1, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model(x)
    theirs = original_forward(state, x)
    assert ours.shape == (2, 5)
    assert float(theirs.std()) > 1e-3  # not equal by accident (e.g. all zero after dead ReLUs)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_layer8_is_copied_into_convolutions_9_and_10(converted):
    state, model, _ = converted
    mapped = legacy_state_dict_to_slicnet(state)
    for idx in (24, 28, 31):  # SlicNet's convolutions 8, 9, 10
        assert torch.equal(mapped[f"features.{idx}.weight"], state["layer8.0.weight"])
        assert torch.equal(mapped[f"features.{idx + 1}.running_var"], state["layer8.1.running_var"])
    assert torch.equal(mapped["classifier.7.weight"], state["classifier.6.weight"])
    assert set(mapped) == set(model.state_dict())


def test_metadata_records_the_original_preprocessing(converted):
    _, model, _ = converted
    meta = model.slic_meta
    legacy = meta.extra["legacy"]
    assert legacy["source"] == "sol_clf.pth"
    assert legacy["preprocessing"]["input_range"] == [0, 255]
    assert "imresize" in legacy["preprocessing"]["training"]
    assert meta.preprocess.image_size == 256
    assert meta.model["head"] == "paper"


def test_dataparallel_prefix_and_bad_files(tmp_path):
    small = {"module.layer1.0.weight": torch.zeros(64, 1, 3, 3)}
    torch.save(small, tmp_path / "partial.pth")
    with pytest.raises(SlicWeightsError, match="not an original Slic state dict"):
        convert_legacy(tmp_path / "partial.pth", tmp_path / "out.safetensors")
    # An arbitrary pickled object is refused by weights_only=True, not executed.
    (tmp_path / "evil.pth").write_bytes(pickle.dumps(object()))
    with pytest.raises(SlicWeightsError, match="weights_only=True"):
        convert_legacy(tmp_path / "evil.pth", tmp_path / "out.safetensors")
    with pytest.raises(FileNotFoundError, match="no such legacy"):
        convert_legacy(tmp_path / "missing.pth", tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()
