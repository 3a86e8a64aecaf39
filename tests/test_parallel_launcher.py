"""The parallel launcher (Ray) runs as many trials at once as there are GPUs and gives each its
own: 4 trials on 2 GPUs run 2 at a time, on distinct GPUs, each recording the
CUDA_VISIBLE_DEVICES it was shown. On a CPU-only machine 2 logical GPUs are declared: Ray
schedules them and sets CUDA_VISIBLE_DEVICES, and training stays on the CPU; on a machine with 2
GPUs or more the same test trains on them (``trainer.accelerator=gpu``). The first two trials
wait for each other at the start of training (``MeetOthers``), so their overlap does not hang on
how fast the machine starts workers."""

from __future__ import annotations

import pytest
import torch

from sweeps_support import multirun, results, tail

GPUS = torch.cuda.device_count()  # NVML's count: CUDA itself is not initialized here

pytest.importorskip("hydra_plugins.hydra_ray_launcher")


def _max_overlap(intervals: list[tuple[float, float, str]]) -> tuple[int, list[list[str]]]:
    """Most trials running at one moment, and the GPU ids of every group running together."""
    events = sorted([(s, 1, g) for s, _, g in intervals] + [(e, -1, g) for _, e, g in intervals])
    running: list[str] = []
    most, groups = 0, []
    for _, kind, gpu in events:
        if kind == 1:
            running.append(gpu)
            groups.append(list(running))
            most = max(most, len(running))
        else:
            running.remove(gpu)
    return most, groups


def test_four_trials_on_two_gpus_run_two_at_a_time_each_on_its_own_gpu(tmp_path):
    sweep = tmp_path / "sweep"
    real = ["trainer.accelerator=gpu", "trainer.devices=1"] if GPUS >= 2 else []  # after QUIET's accelerator=cpu
    proc = multirun(["seed=1,2,3,4", "hydra/launcher=parallel", "hydra.launcher.ray.init.num_gpus=2",
                     "hydra.launcher.ray.init.num_cpus=2", "hydra.launcher.ray.remote.num_cpus=0",
                     "test=false", "+callbacks.meet._target_=sweeps_support.MeetOthers",
                     f"+callbacks.meet.folder={tmp_path / 'meet'}", *real], sweep, timeout=400)
    assert proc.returncode == 0, tail(proc)
    got = results(sweep)
    assert sorted(got) == [0, 1, 2, 3] and all(r["status"] == "completed" for r in got.values()), got
    for r in got.values():
        assert r["resources"]["launcher"] == "ray"
        assert len(r["resources"]["gpu_ids"]) == 1 and r["resources"]["cuda_visible_devices"] in ("0", "1")
        assert r["placement"]["cuda_visible_devices"] == r["resources"]["cuda_visible_devices"]
    intervals = [(r["started_at"], r["ended_at"], r["resources"]["gpu_ids"][0]) for r in got.values()]
    most, groups = _max_overlap(intervals)
    assert most == 2, f"expected 2 trials at once, saw {most}: {intervals}"
    for together in groups:
        assert len(set(together)) == len(together), f"concurrent trials shared a GPU: {together}"
    assert len({r["resources"]["pid"] for r in got.values()}) == 4  # one fresh worker per trial
