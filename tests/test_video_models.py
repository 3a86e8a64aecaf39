"""Every model family on every video task: builds from its yaml's target, trains, keeps its cells."""

import pytest
import torch
from hydra.utils import get_object
from torch.nn import functional as F

from seqvision.errors import ConfigError
from seqvision.nets.cells import CELLS
from seqvision.nets.family import family_of
from seqvision.tasks.predict import FramePredictionTask

# the family each model yaml names, with knobs small enough for a 16x16 test
MODELS = {
    "cnn": {"_target_": "seqvision.nets.cnn.family", "num_layers": 2, "width": 8},
    "convlstm": {"_target_": "seqvision.nets.convlstm.family", "num_layers": 2, "hidden_channels": 8,
                 "stem_layers": 1, "stem_width": 8, "patch_size": 2},
    "cnn_lstm": {"_target_": "seqvision.nets.cnn_rnn.family", "num_layers": 1, "hidden_size": 32,
                 "stem_layers": 2, "stem_width": 8},
    "attention": {"_target_": "seqvision.nets.attention.family", "num_layers": 1, "dim": 32, "heads": 2,
                  "patch_size": 4},
}
MODELS["convlstm_feedback"] = {**MODELS["convlstm"], "forecast": "feedback"}


def predict_data(t_in=4, t_out=3):
    return "frame_predictor", {"input_shape": (t_in, 1, 16, 16), "output_frames": t_out}


def video_data(classes=3):
    return "clip_classifier", {"input_shape": (4, 1, 16, 16), "num_classes": classes}


def build(cfg: dict, data):
    role, data_arguments = data
    knobs = {k: v for k, v in cfg.items() if not k.startswith("_")}
    return family_of(get_object(cfg["_target_"])).build(role, data_arguments, knobs)


def moving_blobs(n=8, t=7, seed=0):
    """(n, t, 1, 16, 16) frames of a bright 4x4 square moving one pixel per frame to the right."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.zeros(n, t, 1, 16, 16)
    y0, x0 = torch.randint(0, 12, (n,), generator=g), torch.randint(0, 5, (n,), generator=g)
    for i in range(n):
        for k in range(t):
            frames[i, k, 0, y0[i]: y0[i] + 4, x0[i] + k: x0[i] + k + 4] = 1.0
    return frames


def _fit(net, loss_fn, steps=25, lr=3e-3):
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_predicts_frames_and_its_loss_falls(model):
    torch.manual_seed(0)
    net = build(MODELS[model], predict_data())
    task = FramePredictionTask(net, optimizer=None, loss="mse")
    frames = moving_blobs()
    x, y = frames[:, :4], frames[:, 4:]
    assert net(x).shape == y.shape
    losses = _fit(net, lambda: task._loss(net(x), y))
    assert sum(losses[-3:]) / 3 < 0.7 * losses[0], losses


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_classifies_clips_and_its_loss_falls(model):
    torch.manual_seed(0)
    net = build(MODELS[model], video_data())
    clips = moving_blobs(9, 4)
    labels = torch.arange(9) % 3
    clips = clips * (1 + labels.view(-1, 1, 1, 1, 1)) / 3  # the class sets the brightness
    assert net(clips).shape == (9, 3)
    losses = _fit(net, lambda: F.cross_entropy(net(clips), labels), lr=1e-2)
    assert sum(losses[-3:]) / 3 < 0.7 * losses[0], losses


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("model", ["convlstm", "cnn_lstm"])
def test_recurrent_variants_accept_every_cell(model, cell):
    cfg = {**MODELS[model], "cell": cell}
    for data, out in ((predict_data(3, 2), (2, 2, 1, 16, 16)), (video_data(), (2, 3))):
        net = build(cfg, data)
        y = net(torch.rand(2, *data[1]["input_shape"]))
        assert y.shape == out
        y.square().mean().backward()
        unused = {"forecaster.0.conv_x.weight"}  # the forecaster's first layer has no input (Shi et al.)
        assert all(p.grad is not None for n, p in net.named_parameters() if n not in unused)


@pytest.mark.parametrize("head", ["sigmoid", "linear"])
def test_a_feedback_forecaster_reads_its_own_predictions(head):
    """Given its first predicted frame as one more input, it forecasts the same frames from the second on."""
    torch.manual_seed(0)
    net = build({**MODELS["convlstm_feedback"], "head": head}, predict_data(4, 3))
    task = FramePredictionTask(net, optimizer=None)
    assert net.forecaster is None  # one stack reads the inputs and then its own output
    x = torch.rand(2, 4, 1, 16, 16)
    with torch.no_grad():
        pred = net(x)
        shifted = net(torch.cat([x, task(x)[:, :1]], dim=1))
    torch.testing.assert_close(shifted[:, :2], pred[:, 1:], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="forecast must be 'state' or 'feedback'"):
        build({**MODELS["convlstm"], "forecast": "teacher"}, predict_data())


def test_a_linear_head_predicts_the_frames_and_its_mse_never_saturates():
    """Frames are the outputs clamped to [0, 1]; the loss sees the raw outputs, so an output far
    outside the range still gets a gradient (a sigmoid's vanishes there); BCE is refused."""
    net = build({**MODELS["convlstm"], "head": "linear"}, predict_data())
    task = FramePredictionTask(net, optimizer=None, loss="mse")
    out = torch.tensor([-3.0, 0.25, 4.0]).view(1, 3, 1, 1, 1).expand(1, 3, 1, 16, 16).clone().requires_grad_()
    target = torch.full_like(out, 0.5)
    torch.testing.assert_close(task._frames(out)[0, :, 0, 0, 0], torch.tensor([0.0, 0.25, 1.0]))
    task._loss(out, target).backward()
    assert (out.grad[0, :, 0, 0, 0] * torch.tensor([-1.0, -1.0, 1.0]) > 0).all()  # every output pulled toward 0.5
    logits = out.detach().clone().requires_grad_()
    FramePredictionTask(build(MODELS["convlstm"], predict_data()), optimizer=None)._loss(logits, target).backward()
    assert logits.grad[0, 2].abs().max() < 0.05 * out.grad[0, 2].abs().max()
    with pytest.raises(ConfigError, match="task.loss=bce needs logits"):
        FramePredictionTask(net, optimizer=None, loss="bce")


def test_the_same_knobs_mean_the_same_thing():
    cfg = {**MODELS["convlstm"], "num_layers": 3, "cell": "cifg"}
    net = build(cfg, predict_data())
    assert len(net.encoder) == 3 and len(net.forecaster) == 3
    assert {c.cell for c in [*net.encoder, *net.forecaster]} == {"cifg"}
    rnn = build({**MODELS["cnn_lstm"], "num_layers": 2, "cell": "gru"}, predict_data()).rnn
    assert rnn.num_layers == 2 and rnn.cell == "gru"


def test_row_lstm_builds_images_only_and_says_why():
    from seqvision.nets.row_rnn import RowRNN, family

    assert family.member("image_classifier") is RowRNN
    for role in ("clip_classifier", "frame_predictor"):
        assert family.member(role) is None and "convlstm" in family.unsupported[role]


def test_patch_option_is_space_to_depth():
    net = build({**MODELS["convlstm"], "patch_size": 4}, predict_data())
    assert net.encoder[0].conv_x.in_channels == 16  # 1 channel x 4 x 4 patch
    with pytest.raises(ValueError, match="patch_size=3"):
        build({**MODELS["convlstm"], "patch_size": 3}, predict_data())
