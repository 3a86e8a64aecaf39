"""Secrets from the environment (and one typed on the command line) appear in no output file.

One run logs to CSV, TensorBoard and W&B (offline) with fake secrets in the environment and an
``api_key`` override; then it is resumed from its folder. Every file under the run folder
(configs, logs, metrics, event files, checkpoints, the W&B offline run) and the console
output are searched, as bytes, for every secret. The resumed run also shows that W&B logging
continues under the same run id.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TINY, results, run_train

pytestmark = pytest.mark.slow  # two runs with W&B (about 70 s on a shared 2-core CPU)

SECRETS = {"WANDB_API_KEY": "fake-secret-xyz-0123456789", "AWS_SECRET_ACCESS_KEY": "aws-secret-abc-987654321",
           "HF_TOKEN": "hf_fakeTokenValue42", "DB_PASSWORD": "pa55-word-fake"}
CLI_SECRET = "cli-secret-qqq-31337"


def _leaks(folder: Path, outputs: str) -> list[str]:
    values = [*SECRETS.values(), CLI_SECRET]
    found = [f"console: {v}" for v in values if v in outputs]
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".ckpt" for p in files) and any(".wandb" == p.suffix for p in files)
    for path in files:
        data = path.read_bytes()
        found += [f"{path.relative_to(folder)}: {v}" for v in values if v.encode() in data]
    return found


def test_no_secret_in_any_output_and_wandb_resumes_same_run(tmp_path):
    run_dir = tmp_path / "run"
    args = [*TINY, "trainer.max_epochs=1", "scheduler=none", "logger=[csv,tensorboard,wandb]",
            f"+extras.api_key={CLI_SECRET}"]
    first = run_train([*args, f"hydra.run.dir={run_dir}"], WANDB_MODE="offline", **SECRETS)
    assert first.returncode == 0, first.stderr[-3000:]
    assert results(run_dir)["overrides"][-1] == "+extras.api_key=***"

    # resume=<folder> replays the run's own overrides; the new one extends it by an epoch
    second = run_train([f"resume={run_dir}", "trainer.max_epochs=2"], WANDB_MODE="offline", **SECRETS)
    assert second.returncode == 0, second.stderr[-3000:]
    assert results(run_dir)["epochs"] == 2

    assert _leaks(run_dir, first.stdout + first.stderr + second.stdout + second.stderr) == []

    run_id = (run_dir / "wandb" / "run_id").read_text().strip()
    offline_runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 2 and all(p.name.endswith(f"-{run_id}") for p in offline_runs)
