"""``python -m seqvision.report``: a multirun folder in, Markdown + CSV table (mean ± std over
seeds per ablation cell, n, failed) and PNG plots out. Tested on a real small sweep and on
hand-written trial records whose statistics are known."""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys

import pytest

from sweeps_support import ROOT, env, multirun, results, tail

PNG = b"\x89PNG\r\n\x1a\n"


def _trial(folder, num, overrides, status="completed", acc=None, curve=()):
    folder.mkdir(parents=True)
    record = {"job_num": num, "status": status, "overrides": overrides, "epochs": len(curve) or None,
              "wall_time_s": 2.0, "metrics": {} if acc is None else {"test/acc": acc, "val/acc_best": acc + 0.01}}
    if status != "completed":
        record["error"] = "NonFiniteLossError: non-finite loss (nan) at global step 3"
    (folder / "results.json").write_text(json.dumps(record))
    if curve:
        (folder / "csv").mkdir()
        rows = ["epoch,step,val/acc,train/loss"] + [f"{e},{e * 10},{v},\n{e},{e * 10},,0.5" for e, v in enumerate(curve)]
        (folder / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")


def test_known_statistics_two_axes_failures_and_sweep_json_only_trials(tmp_path):
    from seqvision.report.__main__ import build

    accs = {("row_lstm", "lstm"): [0.90, 0.92, 0.94], ("row_lstm", "nfg"): [0.50, 0.70],
            ("convlstm", "lstm"): [0.80], ("convlstm", "nfg"): []}
    num = 0
    for (model, cell), values in accs.items():
        for seed in (1, 2, 3):
            ov = [f"model={model}", f"model.net.cell={cell}", f"seed={seed}", "data.limit=100"]
            if seed <= len(values):
                _trial(tmp_path / str(num), num, ov, acc=values[seed - 1], curve=(0.3, 0.6, values[seed - 1]))
            elif (model, cell) != ("convlstm", "nfg"):
                _trial(tmp_path / str(num), num, ov, status="failed")
            num += 1
    # convlstm/nfg: seeds 1-2 never wrote results.json (killed), only sweep.json knows them
    (tmp_path / "sweep.json").write_text(json.dumps({"trials": [
        {"job_num": n, "dir": str(tmp_path / str(n)), "status": "failed", "error": "WorkerCrashedError: killed",
         "overrides": ["model=convlstm", "model.net.cell=nfg", f"seed={s}", "data.limit=100"]}
        for n, s in ((9, 1), (10, 2), (11, 3))]}))
    report = build(tmp_path)
    rows = list(csv.DictReader(io.StringIO(report["csv"])))
    by = {(r["model"], r["model.net.cell"]): r for r in rows}
    assert list(rows[0])[:4] == ["model", "model.net.cell", "n", "failed"]  # data.limit is not an axis
    for key, values in accs.items():
        r = by[key]
        assert int(r["n"]) == len(values) and int(r["failed"]) == 3 - len(values)
        if values:
            assert float(r["test/acc_mean"]) == pytest.approx(statistics.fmean(values))
        if len(values) > 1:
            assert float(r["test/acc_std"]) == pytest.approx(statistics.stdev(values))
        else:
            assert r["test/acc_std"] == ""
    md = report["markdown"]
    assert "| row_lstm | lstm | 3 | 0 | 0.9200 ± 0.0200 |" in md
    assert "| row_lstm | nfg | 2 | 1 | 0.6000 ± 0.1414 |" in md
    assert "| convlstm | nfg | 0 | 3 | - |" in md
    assert "WorkerCrashedError: killed" in md and "NonFiniteLossError" in md
    names = sorted(p.name for p in report["plots"])
    assert names == ["curves_val_acc.png", "test_acc.png", "val_acc_best.png"]
    for p in report["plots"]:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
    assert (tmp_path / "report" / "report.md").read_text() == md


@pytest.mark.timeout(300)
def test_report_of_a_real_sweep_via_the_cli(tmp_path):
    sweep = tmp_path / "sweep"
    proc = multirun(["optimizer.lr=0.003,0.03", "seed=1,2", "trainer.max_epochs=2"], sweep)
    assert proc.returncode == 0, tail(proc)
    got = results(sweep)
    out = subprocess.run([sys.executable, "-m", "seqvision.report", str(sweep)], cwd=ROOT, env=env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"# Sweep report: {sweep}")
    assert "4 trials, 4 completed, 0 failed" in out.stdout
    for lr in ("0.003", "0.03"):
        accs = [r["metrics"]["test/acc"] for r in got.values() if f"optimizer.lr={lr}" in r["overrides"]]
        assert len(accs) == 2
        cell = f"{statistics.fmean(accs):.4f} ± {statistics.stdev(accs):.4f}"
        assert f"| {lr} | 2 | 0 | {cell} |" in out.stdout, out.stdout
    files = sorted(p.name for p in (sweep / "report").iterdir())
    assert files == ["curves_val_acc.png", "report.csv", "report.md", "test_acc.png", "val_acc_best.png"]
    curves = (sweep / "report" / "curves_val_acc.png").read_bytes()
    assert curves[:8] == PNG


def test_an_empty_folder_is_an_error_not_an_empty_table(tmp_path):
    out = subprocess.run([sys.executable, "-m", "seqvision.report", str(tmp_path)], cwd=ROOT, env=env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no trials" in out.stderr
