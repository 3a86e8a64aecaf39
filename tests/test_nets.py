"""Every net: the constructor contract, both image shapes, a few Adam steps lower the loss."""

import pytest
import torch

from seqvision.nets.attention import ViT
from seqvision.nets.cells import CELLS
from seqvision.nets.cnn_rnn import CNNRNN
from seqvision.nets.convlstm import ConvLSTMNet
from seqvision.nets.row_rnn import RowRNN




SHAPES = [(1, 28, 28), (3, 32, 32)]
TINY = {
    "row_rnn": (RowRNN, dict(num_layers=1, hidden_size=16)),
    "row_rnn_bi_mean": (RowRNN, dict(num_layers=2, hidden_size=8, bidirectional=True, readout="mean", dropout=0.1)),
    "cnn_rnn": (CNNRNN, dict(num_layers=1, hidden_size=16, stem_layers=2, stem_width=8)),
    "convlstm": (ConvLSTMNet, dict(num_layers=2, hidden_channels=[4, 8], steps=2, stem_layers=2, stem_width=4)),
    "vit": (ViT, dict(num_layers=2, dim=32, heads=2, patch_size=4)),
    "vit_hybrid_mean": (ViT, dict(num_layers=1, dim=16, heads=2, patch_size=2, stem_layers=1, stem_width=8, pool="mean")),
}


def fits(net, shape, steps=8, lr=3e-3):
    torch.manual_seed(0)
    x, y = torch.randn(8, *shape), torch.arange(8) % 4
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert net(x).shape == (8, 4)
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", TINY)
def test_model_trains(name, shape):
    torch.manual_seed(0)
    cls, kw = TINY[name]
    fits(cls(shape, 4, **kw), shape)


@pytest.mark.parametrize("cell", CELLS)
def test_row_rnn_every_cell(cell):
    torch.manual_seed(0)
    fits(RowRNN((1, 28, 28), 4, num_layers=1, hidden_size=8, cell=cell), (1, 28, 28), steps=5, lr=1e-2)


@pytest.mark.parametrize("cell", ["vanilla", "cifg", "gru"])
def test_cnn_rnn_and_convlstm_other_cells(cell):
    torch.manual_seed(0)
    fits(CNNRNN((3, 32, 32), 4, hidden_size=8, cell=cell, stem_layers=2, stem_width=4), (3, 32, 32), steps=4)
    fits(ConvLSTMNet((1, 28, 28), 4, num_layers=1, hidden_channels=4, cell=cell, steps=2, stem_layers=2,
                     stem_width=4, peephole_shape="channel"), (1, 28, 28), steps=4)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("cls", [RowRNN, CNNRNN, ConvLSTMNet, ViT])
def test_defaults_build_and_run(cls, shape):
    net = cls(shape, 10).eval()
    with torch.no_grad():
        assert net(torch.randn(2, *shape)).shape == (2, 10)


def test_convlstm_accepts_video():
    net = ConvLSTMNet((3, 16, 16), 5, num_layers=1, hidden_channels=4, stem_layers=1, stem_width=4)
    assert net(torch.randn(2, 3, 3, 16, 16)).shape == (2, 5)  # (B, T, C, H, W): one step per frame


def test_bad_knobs_fail_clearly():
    with pytest.raises(ValueError, match=r"patch_size=5 does not divide the 28x28 image; valid patch sizes: 1, 2, 4, 7, 14, 28"):
        ViT((1, 28, 28), 10, patch_size=5)
    with pytest.raises(ValueError, match="feature map"):
        ViT((3, 32, 32), 10, patch_size=3, stem_layers=1)
    with pytest.raises(ValueError, match="valid cells: lstm, vanilla"):
        RowRNN((1, 28, 28), 10, cell="lstn")
    with pytest.raises(ValueError, match="valid cells"):
        ConvLSTMNet((1, 28, 28), 10, cell="peephole")
    for cls in (RowRNN, CNNRNN, ConvLSTMNet, ViT):
        with pytest.raises(ValueError, match="num_layers must be >= 1"):
            cls((1, 28, 28), 10, num_layers=0)
    with pytest.raises(ValueError, match="readout"):
        RowRNN((1, 28, 28), 10, readout="max")
    with pytest.raises(ValueError, match="hidden_channels"):
        ConvLSTMNet((1, 28, 28), 10, num_layers=2, hidden_channels=[8])


@pytest.mark.parametrize("config", ["row_lstm", "cnn_lstm", "convlstm", "attention"])
def test_model_configs_list_every_knob(config):
    """conf/model/*.yaml name every knob of the family (so none needs a +), the image
    classifier's at their defaults, and no knob that no member of the family takes."""
    import inspect
    from pathlib import Path

    import yaml
    from hydra.utils import get_object

    path = Path(__file__).resolve().parents[1] / "conf" / "model" / f"{config}.yaml"
    net = dict(yaml.safe_load(path.read_text())["net"])
    family = get_object(net.pop("_target_"))
    params = inspect.signature(family.member("image_classifier")).parameters
    assert set(net) == family.knobs()
    assert all(params[k].default == v for k, v in net.items() if k in params)
