"""TensorBoard's HParams dashboard lists a run with its config values and its final metrics
(logged once, at the end of the run, when the metrics exist)."""

from __future__ import annotations

import pytest
from conftest import TINY, train_in_process


def test_hparams_session_holds_the_config_and_the_final_metrics(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    _, record = train_in_process([*TINY, "logger=tensorboard", "optimizer.lr=0.003"], tmp_path)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    starts = [HParamsPluginData.FromString(v).session_start_info for k, v in content.items() if k.endswith("session_start_info")]
    assert len(starts) == 1  # one session: the run is listed once
    hparams = starts[0].hparams
    assert hparams["optimizer/lr"].number_value == 0.003 and hparams["model/net/width"].number_value == 8
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    shown = {m.name.tag for m in experiment.metric_infos}
    assert {"test/acc", "val/acc_best"} <= shown
    assert events.Scalars("test/acc")[-1].value == pytest.approx(record["metrics"]["test/acc"], rel=1e-6)
