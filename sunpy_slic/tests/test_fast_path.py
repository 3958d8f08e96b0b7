"""The fast path `classify` takes by itself: channels-last weights, autocast, torch.compile, copies."""

import copy

import numpy as np
import pytest
import torch

from sunpy_slic import classify, load_model
from sunpy_slic.classification import predict_proba
from sunpy_slic.data import sample_files
from sunpy_slic.model import SlicNet
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.runtime import autocast_dtype, compiled, inference_net, to_device
from sunpy_slic.weights import model_spec


@pytest.fixture
def model():
    torch.manual_seed(0)
    return SlicNet(head="compact", image_size=32).eval()


@pytest.fixture
def batch():
    return torch.randn(6, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def _plain_probabilities(model, x):
    """The reference: float32, NCHW, no tricks."""
    net = copy.deepcopy(model).float().to(memory_format=torch.contiguous_format).eval()
    with torch.no_grad():
        return torch.softmax(net(x.contiguous()), dim=1)


def _conv_weights(model):
    return [p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1]  # C=1 is both layouts


def test_predict_proba_agrees_with_plain_forward_and_leaves_the_model_alone(model, batch):
    expected = _plain_probabilities(model, batch)
    before = {k: t.clone() for k, t in model.state_dict().items()}
    model.train()  # a model in training mode stays so: the dropout of its head too
    got = predict_proba(model, batch, amp=False)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert model.training
    assert all(m.training for m in model.modules())
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name])
        assert tensor.is_contiguous()  # layout unchanged: the file it is saved to is the same
    assert set(model.state_dict()) == set(before)


@pytest.mark.parametrize(("amp", "dtype"), [(False, torch.float32), ("bf16", torch.bfloat16)])
def test_inference_net_folds_batchnorm_and_is_rebuilt_when_weights_change(model, batch, amp, dtype):
    low = None if amp is False else dtype
    net = inference_net(model, low)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert all(p.dtype == dtype for p in net.parameters())
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in _conv_weights(net))
    assert inference_net(model, low) is net  # kept with the model
    first = predict_proba(model, batch, amp=amp)
    with torch.no_grad():
        model.features[1].running_mean.add_(0.5)  # as a training step would change it
    rebuilt = inference_net(model, low)
    assert rebuilt is not net
    second = predict_proba(model, batch, amp=amp)
    assert not torch.allclose(first, second)
    torch.testing.assert_close(second, _plain_probabilities(model, batch), rtol=0.05, atol=0.02)


def test_to_device_gives_channels_last_batch(batch):
    x = to_device(batch, torch.device("cpu"))
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, batch)


def test_autocast_dtype_choices():
    assert autocast_dtype("cpu", False) is None
    assert autocast_dtype("cpu", "fp16") is torch.float16
    assert autocast_dtype("cpu", "bf16") is torch.bfloat16
    native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert autocast_dtype("cpu", "auto") is (torch.bfloat16 if native else None)
    with pytest.raises(ValueError, match="amp must be True, False"):
        autocast_dtype("cpu", "int8")


def test_compile_is_built_once_kept_off_the_state_dict_and_agrees(model, batch):
    eager = predict_proba(model, batch, amp=False)
    result = predict_proba(model, batch, amp=False, compile="eager")
    torch.testing.assert_close(result, eager)
    net = inference_net(model, None)
    first = compiled(net, "eager")  # the one predict_proba built and kept
    predict_proba(model, batch, amp=False, compile="eager")
    assert compiled(net, "eager") is first  # not compiled again
    assert not any("_orig_mod" in k or "compiled" in k for k in model.state_dict())


def test_compile_rejects_other_types(model, batch):
    with pytest.raises(TypeError, match=r"compile must be True, False, a torch\.compile backend name"):
        predict_proba(model, batch, compile=3)


def test_classify_with_inductor_gives_the_same_probabilities(model):
    """A real torch.compile (inductor, C++ on the CPU) through the public entry point."""
    images = [np.random.default_rng(k).normal(1000, 100, (48, 48)).astype(np.float32) for k in range(4)]
    eager = classify(images, model=model, amp=False, progress=False)
    compiled = classify(images, model=model, amp=False, progress=False, compile=True)
    for name in eager.colnames:
        if name.startswith("p_"):
            np.testing.assert_allclose(compiled[name], eager[name], rtol=1e-4, atol=1e-5)
    assert list(compiled["feature"]) == list(eager["feature"])


def test_bf16_keeps_the_bundled_model_predictions_on_real_frames():
    """The accuracy impact of bf16 (stated in the model card): same argmax, probabilities within 0.02."""
    import sunpy.map

    model = load_model(None, device="cpu")
    x = preprocess([sunpy.map.Map(f) for f in sample_files()], model_spec(model))
    p32 = predict_proba(model, x, amp=False)
    p16 = predict_proba(model, x, amp="bf16")
    assert torch.equal(p32.argmax(1), p16.argmax(1))
    assert float((p32 - p16).abs().max()) < 0.02
    assert not torch.equal(p32, p16)  # bf16 really ran


def test_probability_map_takes_the_same_switches(hpc_map, model):
    from sunpy_slic.overlay import probability_map

    plain = probability_map(
        hpc_map, method="tiles", model=model, tile=32, stride=16, amp=False, progress=False
    )
    compiled = probability_map(
        hpc_map, method="tiles", model=model, tile=32, stride=16, amp=False, compile="eager", progress=False
    )
    low = probability_map(
        hpc_map, method="tiles", model=model, tile=32, stride=16, amp="bf16", progress=False
    )
    for name, smap in plain.items():
        np.testing.assert_allclose(compiled[name].data, smap.data, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(low[name].data, smap.data, atol=0.05)
        assert np.isfinite(smap.data).all()


def test_fit_through_compile_trains_the_same_weights():
    from torch.utils.data import TensorDataset

    from sunpy_slic.train import fit

    gen = torch.Generator().manual_seed(3)
    data = TensorDataset(torch.randn(16, 1, 32, 32, generator=gen), torch.arange(16) % 5)
    kwargs = {"image_size": 32, "epochs": 1, "batch_size": 8, "amp": False, "progress": False}
    kwargs["augment"] = False
    plain = fit(data, **kwargs)
    compiled = fit(data, compile="eager", **kwargs)
    assert plain.model.state_dict().keys() == compiled.model.state_dict().keys()
    for name, tensor in plain.model.state_dict().items():
        torch.testing.assert_close(compiled.model.state_dict()[name], tensor)
    assert plain.history[0]["train_loss"] == pytest.approx(compiled.history[0]["train_loss"])
