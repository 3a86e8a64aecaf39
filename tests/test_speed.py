"""Speed switches: global flags, channels-last nets, the bf16 resolver, the fast experiments."""

from __future__ import annotations

import pytest
import torch
from conftest import compose, train_in_process

from seqvision import speed
from seqvision.errors import ConfigError
from seqvision.nets.airbench import AirbenchNet
from seqvision.nets.cnn import CNN
from seqvision.config import Validation


@pytest.fixture
def restore_torch_flags():
    flags = (torch.backends.cudnn.benchmark, torch.get_float32_matmul_precision(), torch.get_num_threads())
    yield
    torch.backends.cudnn.benchmark = flags[0]
    torch.set_float32_matmul_precision(flags[1])
    torch.set_num_threads(flags[2])


def test_global_flags_follow_the_config(restore_torch_flags):
    applied = speed.apply_global({"cudnn_benchmark": True, "matmul_precision": "medium", "num_threads": 1},
                                 {"accelerator": "cpu"})
    assert torch.backends.cudnn.benchmark is True and torch.get_float32_matmul_precision() == "medium"
    assert torch.get_num_threads() == 1
    assert applied == {"device": "cpu", "cudnn_benchmark": True, "matmul_precision": "medium", "num_threads": 1}
    # auto means "with a GPU"; deterministic runs never autotune
    assert speed.apply_global({"cudnn_benchmark": "auto"}, {"accelerator": "cpu"})["cudnn_benchmark"] is False
    assert speed.apply_global({"cudnn_benchmark": True}, {"accelerator": "cpu", "deterministic": True})["cudnn_benchmark"] is False
    with pytest.raises(ConfigError, match="speed.cudnn_benchmark"):
        speed.apply_global({"cudnn_benchmark": "sometimes"}, {"accelerator": "cpu"})


def test_channels_last_net_computes_the_same_and_keeps_its_state_dict():
    torch.manual_seed(0)
    plain = CNN((3, 16, 16), 5, num_layers=2, width=8).eval()
    nhwc = speed.channels_last(CNN((3, 16, 16), 5, num_layers=2, width=8)).eval()
    nhwc.load_state_dict(plain.state_dict())
    conv = nhwc.stem.blocks[0][0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert set(nhwc.state_dict()) == set(plain.state_dict())
    x = torch.randn(4, 3, 16, 16)
    torch.testing.assert_close(nhwc(x), plain(x), rtol=1e-4, atol=1e-5)


def test_fast_precision_is_bf16_only_where_native():
    assert speed.fast_precision("cpu") == ("bf16-mixed" if speed.bf16_is_fast("cpu") else "32-true")
    assert speed.fast_precision("cpu") in ("bf16-mixed", "32-true")


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (3, 8, 8)])
def test_airbench_net_shapes(shape):
    net = AirbenchNet(shape, 10)
    assert net(torch.randn(2, *shape)).shape == (2, 10)
    with pytest.raises(ValueError):
        AirbenchNet((3, 1, 1), 10)


@pytest.mark.parametrize("experiment", ["mnist_cnn_fast", "mnist_row_lstm_fast", "cifar10_fast"])
def test_fast_experiments_compose_and_validate(experiment):
    cfg = compose([f"experiment={experiment}"], "/tmp/seqvision-compose")
    assert Validation(cfg).problems() == []
    assert cfg.trainer.precision in ("bf16-mixed", "32-true")
    assert cfg.trainer.check_val_every_n_epoch == cfg.trainer.max_epochs


def test_schema_rejects_bad_speed_values():
    cfg = compose(["speed.matmul_precision=fastest", "speed.num_threads=0", "model.channels_last=maybe"],
                  "/tmp/seqvision-compose")
    found = "\n".join(Validation(cfg).problems())
    assert "speed.matmul_precision" in found and "speed.num_threads" in found and "model.channels_last" in found


def test_cnn_fast_experiment_trains_on_tiny_mnist(mnist_root, tmp_path):
    _, results = train_in_process(["experiment=mnist_cnn_fast", f"data.root={mnist_root}", "data.download=false",
                                   "data.batch_size=64", "trainer.max_epochs=2"], tmp_path / "run")
    assert results["status"] == "completed" and results["epochs"] == 2
    assert results["speed"]["device"] == "cpu"
    assert results["metrics"]["test/acc"] >= 0.5  # the fixture's classes are separable
