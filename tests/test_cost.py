"""What a run cost: FLOP counts against hand counts, the energy counters' arithmetic, and the
``cost`` block a real run writes into ``results.json``."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, train_in_process
from torch import nn

from seqvision.cost.energy import EnergyMeter
from seqvision.cost.flops import UncountedOps, forward_flops


def test_flops_of_a_small_conv_net_by_hand():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    total, per_module = forward_flops(net, (1, 8, 8))
    conv = 2 * (4 * 8 * 8) * (1 * 3 * 3)  # a multiply-add per output element and kernel tap: 4,608
    linear = 2 * 256 * 10  # 5,120
    assert total == conv + linear == 9728
    assert per_module["Global"] == total


class _LastStep(nn.Module):
    def __init__(self, rnn: nn.Module, hidden: int):
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(hidden, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


@pytest.mark.parametrize("kind, gates", [(nn.LSTM, 4), (nn.GRU, 3)])
def test_flops_of_a_fused_recurrent_layer_by_hand(kind, gates):
    """oneDNN runs nn.LSTM as one kernel that torch's counter does not know (it would count 0);
    the count runs it as its matrix products instead."""
    steps, features, hidden = 5, 8, 16
    total, _ = forward_flops(_LastStep(kind(features, hidden, batch_first=True), hidden), (steps, features))
    per_step = 2 * gates * hidden * features + 2 * gates * hidden * hidden
    assert total == steps * per_step + 2 * hidden * 10


def test_every_gate_variant_counts_its_matrix_products():
    """Our cells: ``lstm`` on the library kernel, ``vanilla`` (peepholes, elementwise and not
    counted) on the hand-written loop: the same products, the same count; by hand for MNIST rows."""
    from seqvision.nets.row_rnn import RowRNN

    counts = {cell: forward_flops(RowRNN((1, 28, 28), 10, num_layers=1, hidden_size=16, cell=cell), (1, 28, 28))[0]
              for cell in ("lstm", "vanilla", "cifg", "gru")}
    lstm = 28 * (2 * 64 * 28 + 2 * 64 * 16) + 2 * 16 * 10
    assert counts["lstm"] == counts["vanilla"] == lstm == 158016
    assert counts["gru"] == 28 * (2 * 48 * 28 + 2 * 48 * 16) + 2 * 16 * 10
    assert counts["cifg"] == 28 * (2 * 48 * 28 + 2 * 48 * 16) + 2 * 16 * 10  # input and forget gate coupled


def test_flops_of_fused_attention_by_hand():
    class Attend(nn.Module):
        def forward(self, x):
            return torch.nn.functional.scaled_dot_product_attention(x, x, x)

    tokens, dim = 4, 8
    total, _ = forward_flops(Attend(), (1, tokens, dim))  # one head
    assert total == 2 * tokens * tokens * dim + 2 * tokens * tokens * dim == 512  # Q K^T, then A V


def test_a_product_without_a_formula_refuses_a_number():
    class Int8(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(32, 32), requires_grad=False)

        def forward(self, x):
            return torch._int_mm(x.reshape(1, 32).expand(32, 32).to(torch.int8), self.w.to(torch.int8))

    with pytest.raises(UncountedOps, match="_int_mm"):
        forward_flops(Int8(), (32,))


def test_a_run_whose_flops_cannot_be_counted_says_so_and_refuses_a_flop_budget(tmp_path, monkeypatch):
    from seqvision.callbacks import cost as meter_module
    from seqvision.errors import ConfigError

    def uncounted(net, shape, depth=3):
        raise UncountedOps("no FLOP formula for aten.some_kernel")

    monkeypatch.setattr(meter_module, "forward_flops", uncounted)
    _, record = train_in_process(TINY, tmp_path / "a")
    assert record["status"] == "completed"
    assert record["cost"]["forward_flops_per_sample"] == "not measured (no FLOP formula for aten.some_kernel)"
    assert record["cost"]["train_flops"].startswith("not measured") and record["cost"]["train_seconds"] > 0
    with pytest.raises(ConfigError, match="budget.flops=1e.12: the net's forward FLOPs are not known"):
        train_in_process([*TINY, "budget.flops=1e12"], tmp_path / "b")


def _powercap(root, packages):
    for i, (energy, top) in enumerate(packages):
        zone = root / f"intel-rapl:{i}"
        (zone / f"intel-rapl:{i}:0").mkdir(parents=True)  # a subzone (cores): inside the package, not added
        (zone / f"intel-rapl:{i}:0" / "energy_uj").write_text("999")
        (zone / "energy_uj").write_text(str(energy))
        (zone / "max_energy_range_uj").write_text(str(top))


def test_rapl_sums_packages_and_survives_a_wraparound(tmp_path):
    _powercap(tmp_path, [(1_000_000, 10_000_000), (9_000_000, 10_000_000)])
    meter = EnergyMeter("cpu", root=tmp_path)
    meter.start()
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("3500000")  # +2.5 J
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("500000")  # wrapped: +1.0 + 0.5 J
    meter.stop()
    assert meter.joules == pytest.approx(4.0) and meter.why == ""


def test_energy_says_why_it_was_not_measured(tmp_path, monkeypatch):
    missing = EnergyMeter("cpu", root=tmp_path / "none")
    missing.start()
    missing.stop()
    assert missing.joules is None and "no RAPL package zones" in missing.why
    _powercap(tmp_path, [(1, 100)])
    from pathlib import Path

    real = Path.read_text

    def denied(self, *a, **k):
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", denied)
    meter = EnergyMeter("cpu", root=tmp_path)
    meter.start()
    assert meter.joules is None and meter.why.startswith("permission denied reading") and "energy_uj" in meter.why


def test_a_run_records_its_cost(tmp_path):
    _, record = train_in_process([*TINY, "trainer.max_epochs=2"], tmp_path)
    cost = record["cost"]
    assert cost["params"] > 0 and cost["forward_flops_per_sample"] > 0
    assert cost["train_samples"] == 2 * record["data"]["used"]["train"]  # the test's checkpoint load leaves it alone
    assert cost["train_flops"] == 3 * cost["forward_flops_per_sample"] * cost["train_samples"]
    assert 0 < cost["train_seconds"] < record["wall_time_s"]
    assert cost["device_seconds"] > 0 and cost["peak_memory_bytes"] > 50 * 2**20
    # train_seconds is rounded to the millisecond: on a run of a fraction of a second that is 0.5%
    assert cost["throughput_samples_per_s"] == pytest.approx(cost["train_samples"] / cost["train_seconds"], rel=1e-2)
    assert cost["achieved_flops_per_s"] == pytest.approx(cost["train_flops"] / cost["train_seconds"], rel=1e-2)
    assert isinstance(cost["energy_j"], float) or cost["energy_j"].startswith("not measured (")
    assert record["directions"]["test/acc"] == "max" and record["directions"]["test/loss"] == "min"


def test_the_model_summary_prints_the_same_flops(tmp_path, capfd):
    from pytorch_lightning.utilities.model_summary.model_summary import get_human_readable_count

    summary = "callbacks.model_summary={_target_: seqvision.callbacks.model_summary.FlopsModelSummary, max_depth: 2}"
    _, record = train_in_process([*TINY, summary], tmp_path)
    out = " ".join(capfd.readouterr().out.split())
    flops = record["cost"]["forward_flops_per_sample"]
    assert f"Total FLOPs: {get_human_readable_count(flops)}" in out, out[-2000:]
    assert "Total FLOPs: 0 " not in out
