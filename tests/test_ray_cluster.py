"""Sweeps on a multi-node Ray cluster (``tests/cluster/ray.sh``: a head and a worker node, each a
``ray start`` process of its own on this machine), joined by address with
``hydra/launcher=parallel_cpu hydra.launcher.ray.init.address=<head>``.

* trials land on both nodes, each recording its node id;
* a worker node killed in the middle of a trial: that trial is recorded as failed, the others
  complete, and ``resume=true`` finishes it from its last checkpoint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from clusters import own_ray_cluster, ray_cluster  # noqa: F401  (fixtures)
from sweeps_support import QUIET, ROOT, env, mnist_args, multirun, results, tail

pytest.importorskip("hydra_plugins.hydra_ray_launcher")
pytestmark = pytest.mark.slow


def _on(cluster) -> list[str]:
    return ["hydra/launcher=parallel_cpu", f"hydra.launcher.ray.init.address={cluster.address}"]


def _node_ids(address: str) -> set[str]:
    code = ("import json, sys, ray; ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False); "
            "print(json.dumps([n['NodeID'] for n in ray.nodes() if n['Alive']]))")
    out = subprocess.run([sys.executable, "-c", code, address], env=env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_trials_run_on_both_nodes_of_a_ray_cluster(ray_cluster, tmp_path):
    sweep = tmp_path / "sweep"
    # one core per node and per trial: two trials that meet at the start of training run on two nodes
    proc = multirun([*_on(ray_cluster), "seed=1,2", "test=false", "+callbacks.meet._target_=sweeps_support.MeetOthers",
                     f"+callbacks.meet.folder={tmp_path / 'meet'}"], sweep, timeout=400)
    assert proc.returncode == 0, tail(proc)
    got = results(sweep)
    assert sorted(got) == [0, 1] and all(r["status"] == "completed" for r in got.values()), got
    nodes = {r["placement"]["ray"]["node_id"] for r in got.values()}
    assert len(nodes) == 2 and nodes <= _node_ids(ray_cluster.address), nodes
    assert all(r["resources"]["launcher"] == "ray" for r in got.values())


def test_a_lost_worker_node_fails_its_trial_only_and_resume_finishes_the_sweep(own_ray_cluster, tmp_path):
    from fixtures import write_mnist

    cluster, sweep, marker = own_ray_cluster, tmp_path / "sweep", tmp_path / "parked"
    write_mnist(tmp_path / "data")
    args = [*_on(cluster), *mnist_args(tmp_path / "data"), "seed=1,2", "trainer.max_epochs=2",
            "callbacks.mid_epoch_checkpoint.every_n_train_steps=2",
            # the trial on the worker node waits after step 3 (its last.ckpt is step 2's) until the node is gone
            "+callbacks.park._target_=sweeps_support.Park", f"+callbacks.park.marker={marker}",
            "+callbacks.park.node_resource=node_worker", "+callbacks.park.patience_s=300",
            "+callbacks.meet._target_=sweeps_support.MeetOthers", f"+callbacks.meet.folder={tmp_path / 'meet'}"]
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", *QUIET, *args, f"hydra.sweep.dir={sweep}",
           f"paths.log_dir={tmp_path / 'logs'}"]
    with open(tmp_path / "sweep.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while not marker.exists():
                assert proc.poll() is None, (tmp_path / "sweep.log").read_text()[-4000:]
                assert time.monotonic() < deadline, "no trial parked on the worker node"
                time.sleep(0.2)
            cluster.kill("worker")  # every process of the node, at once: a machine lost
            proc.wait(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, (tmp_path / "sweep.log").read_text()[-4000:]  # one of two failed: the sweep goes on
    summary = json.loads((sweep / "sweep.json").read_text())
    assert (summary["completed"], summary["failed"]) == (1, 1), summary
    got = results(sweep)
    (lost,) = [n for n, r in got.items() if r["status"] == "failed"]
    assert "TrialLost" in got[lost]["error"], got[lost]
    (done,) = [n for n, r in got.items() if r["status"] == "completed"]
    started = got[done]["started_at"]

    second = multirun([*args, "resume=true"], sweep, timeout=400)  # the head node alone now
    assert second.returncode == 0, tail(second)
    again = results(sweep)
    assert all(r["status"] == "completed" and r["metrics"]["test/acc"] > 0.5 for r in again.values()), again
    assert again[done]["started_at"] == started, "the completed trial was trained again"
    assert "Resuming from" in (sweep / str(lost) / "train.log").read_text()
    assert again[lost]["global_step"] == 20
