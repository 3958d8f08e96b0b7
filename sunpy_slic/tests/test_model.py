import pytest
import torch
from torch import nn

from sunpy_slic.model import VGG13_LAYERS, SlicNet


def _convs(model):
    return [m for m in model.features if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("head", ["compact", "paper"])
def test_ten_distinct_convolutions(head):
    model = SlicNet(head=head)
    convs = _convs(model)
    assert len(convs) == 10
    assert [c.out_channels for c in convs] == [v for v in VGG13_LAYERS if v != "M"]
    assert convs[0].in_channels == 1
    assert all(c.kernel_size == (3, 3) for c in convs)
    # Every convolution owns its weights (the original re-used layer 8 in the fifth block).
    assert len({c.weight.data_ptr() for c in convs}) == 10
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.features) == 10
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.features) == 5


def test_parameter_counts():
    conv = sum(p.numel() for p in SlicNet(head="compact").features.parameters())
    # VGG-13 convolutions with one input channel: 9,404,864 weights+biases + 2*4,288 BatchNorm.
    conv_weights = 0
    cin = 1
    for v in VGG13_LAYERS:
        if v != "M":
            conv_weights += 9 * cin * v + v + 2 * v
            cin = v
    assert conv == conv_weights
    compact = sum(p.numel() for p in SlicNet(head="compact").classifier.parameters())
    paper = sum(p.numel() for p in SlicNet(head="paper").classifier.parameters())
    assert compact == 512 * 5 + 5
    assert paper == (512 * 64 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 5 + 5)


@pytest.mark.parametrize(
    ("head", "size"), [("compact", 32), ("compact", 64), ("compact", 96), ("paper", 256)]
)
def test_forward_shapes(head, size):
    model = SlicNet(head=head, image_size=size).eval()
    with torch.inference_mode():
        out = model(torch.randn(3, 1, size, size))
    assert out.shape == (3, 5)
    assert torch.isfinite(out).all()


def test_paper_head_rejects_other_sizes():
    model = SlicNet(head="paper").eval()
    with pytest.raises(ValueError, match="256x256"):
        model(torch.randn(1, 1, 128, 128))
    with pytest.raises(ValueError, match="image_size=256"):
        SlicNet(head="paper", image_size=128)


def test_bad_input_shapes():
    model = SlicNet(image_size=32).eval()
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="at least 32x32"):
        model(torch.randn(1, 1, 16, 16))
    with pytest.raises(ValueError, match="head must be one of"):
        SlicNet(head="resnet")


def test_kaiming_init_is_seeded_and_sane():
    torch.manual_seed(3)
    a = SlicNet(image_size=32)
    torch.manual_seed(3)
    b = SlicNet(image_size=32)
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka
    w = _convs(a)[5].weight.detach()
    # kaiming_normal_(fan_out): std = sqrt(2 / (out_channels * 9))
    expected = (2 / (w.shape[0] * 9)) ** 0.5
    assert abs(float(w.std()) - expected) / expected < 0.05
