"""Real clusters for the tests: a one-node SLURM cluster (``tests/cluster/slurm.sh``) and
multi-node Ray clusters (``tests/cluster/ray.sh``), each node or daemon a process of its own.

``.ci/run`` starts both once and exports ``SV_SLURM_CONF`` and ``SV_RAY_ADDRESS``; the session
fixtures use those, or start a cluster of their own for this test process (and stop it at the
end of the session). A cluster is skipped, with the reason, only where it cannot start: SLURM
is missing and cannot be installed (not root, no apt-get), or Ray is not installed. Where it
could start and did not, the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLURM_SH, RAY_SH = ROOT / "tests" / "cluster" / "slurm.sh", ROOT / "tests" / "cluster" / "ray.sh"


def _node_env() -> dict[str, str]:
    """What the daemons pass on to the trials they run: this checkout's code and the tests' helpers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["SEQVISION_ROOT"] = str(ROOT)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("WANDB_SILENT", "true")
    return env


def why_no_slurm() -> str | None:
    """Why a SLURM cluster cannot start here, or None when it can (installed, or installable)."""
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "srun", "munged")):
        return None
    if os.geteuid() != 0:
        return "slurm-wlm and munge are not installed and installing them needs root"
    if not shutil.which("apt-get"):
        return "slurm-wlm and munge are not installed and there is no apt-get"
    return None


@dataclass
class Slurm:
    conf: str

    def env(self, **extra: str) -> dict[str, str]:
        return {**_node_env(), "SLURM_CONF": self.conf, **extra}

    def run(self, *args: str) -> str:
        proc = subprocess.run(list(args), env=self.env(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{' '.join(args)}: {proc.stdout}{proc.stderr}"
        return proc.stdout

    def wait_for_requeue(self, job: str, timeout: float = 120) -> None:
        """Until the job is back in the queue after a requeue (pending, restarted once or more)."""
        deadline = time.monotonic() + timeout
        while True:
            out = subprocess.run(["scontrol", "show", "job", job], env=self.env(), capture_output=True, text=True).stdout
            fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
            if fields.get("JobState") == "PENDING" and int(fields.get("Restarts", 0)) >= 1:
                return
            assert time.monotonic() < deadline, f"job {job} was not requeued: {out.strip()}"
            time.sleep(0.3)


@pytest.fixture(scope="session")
def slurm_cluster():
    if os.environ.get("SV_SLURM_CONF"):
        yield Slurm(os.environ["SV_SLURM_CONF"])
        return
    if (why := why_no_slurm()) is not None:
        pytest.skip(f"no SLURM cluster: {why}")
    folder = tempfile.mkdtemp(prefix="sv-slurm-")  # short: munge's socket path must fit in 108 bytes
    proc = subprocess.run(["bash", str(SLURM_SH), "up", folder], env=_node_env(), capture_output=True, text=True,
                          timeout=400)
    try:
        assert proc.returncode == 0, f"slurm.sh up failed:\n{proc.stdout}{proc.stderr}"
        yield Slurm(str(Path(folder) / "slurm.conf"))
    finally:
        subprocess.run(["bash", str(SLURM_SH), "down", folder], env=_node_env(), capture_output=True, timeout=120)


@dataclass
class Ray:
    folder: str
    address: str

    def add_worker(self, name: str) -> None:
        _ray_sh("worker", self.folder, name)

    def kill(self, name: str) -> None:
        _ray_sh("kill", self.folder, name)

    def down(self) -> None:
        _ray_sh("down", self.folder)


def _ray_sh(*args: str) -> str:
    proc = subprocess.run(["bash", str(RAY_SH), *args], env=_node_env(), capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"ray.sh {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def start_ray() -> Ray:
    """A head and a worker node of a new cluster (``ray.sh up``); the caller stops it (``down``)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[sweeps]')")
    folder = tempfile.mkdtemp(prefix="sv-ray-")  # short: Ray's socket paths must fit in 108 bytes
    try:
        out = _ray_sh("up", folder)
    except BaseException:
        subprocess.run(["bash", str(RAY_SH), "down", folder], env=_node_env(), capture_output=True, timeout=120)
        raise
    address = [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("RAY_ADDRESS=")][0]
    return Ray(folder, address)


@pytest.fixture(scope="session")
def ray_cluster():
    """The cluster ``.ci/run`` started (``SV_RAY_ADDRESS``), or one of this test process's own."""
    if os.environ.get("SV_RAY_ADDRESS"):
        yield Ray(os.environ.get("SV_RAY_FOLDER", ""), os.environ["SV_RAY_ADDRESS"])
        return
    cluster = start_ray()
    try:
        yield cluster
    finally:
        cluster.down()


@pytest.fixture
def own_ray_cluster():
    """A cluster for one test that takes nodes away from it."""
    cluster = start_ray()
    try:
        yield cluster
    finally:
        cluster.down()
