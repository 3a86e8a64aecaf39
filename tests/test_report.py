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

from sweeps_support import ROOT, env, multirun_here, results, tail

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
    assert names == ["curves_val_acc.png", "test_acc.png", "test_acc_vs_reference.png", "val_acc_best.png"]
    for p in report["plots"]:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000
    assert (tmp_path / "report" / "report.md").read_text() == md


@pytest.mark.timeout(300)
def test_report_of_a_real_sweep_via_the_cli(tmp_path, capsys):
    from seqvision.report.__main__ import main

    sweep = tmp_path / "sweep"
    proc = multirun_here(["optimizer.lr=0.003,0.03", "seed=1,2", "trainer.max_epochs=2"], sweep)
    assert proc.returncode == 0, tail(proc)
    got = results(sweep)
    status = main([str(sweep)])  # `python -m seqvision.report <sweep>`, in this process
    out = capsys.readouterr()
    assert status == 0, out.err
    assert out.out.startswith(f"# Sweep report: {sweep}")
    assert "4 trials, 4 completed, 0 failed" in out.out
    for lr in ("0.003", "0.03"):
        accs = [r["metrics"]["test/acc"] for r in got.values() if f"optimizer.lr={lr}" in r["overrides"]]
        assert len(accs) == 2
        cell = f"{statistics.fmean(accs):.4f} ± {statistics.stdev(accs):.4f}"
        assert f"| {lr} | 2 | 0 | {cell} |" in out.out, out.out
    files = sorted(p.name for p in (sweep / "report").iterdir())
    assert files == ["curves_val_acc.png", "report.csv", "report.md", "test_acc.png", "test_acc_vs_compute.png",
                     "test_acc_vs_reference.png", "val_acc_best.png"]
    assert "## test/acc against the reference (optimizer.lr=0.003; higher is better)" in out.out
    assert "## What each cell cost" in out.out and "| 0.03 | " in out.out.split("## What each cell cost")[1]
    curves = (sweep / "report" / "curves_val_acc.png").read_bytes()
    assert curves[:8] == PNG


def test_an_empty_folder_is_an_error_not_an_empty_table(tmp_path):
    out = subprocess.run([sys.executable, "-m", "seqvision.report", str(tmp_path)], cwd=ROOT, env=env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no trials" in out.stderr


DIRECTIONS = {"test/acc": "max", "val/acc_best": "max", "test/loss": "min"}


def _arm_trials(root, arms: dict[str, list[float]], axis="model.net.cell", cost=None):
    num = 0
    for value, accs in arms.items():
        for seed, acc in enumerate(accs, start=1):
            folder = root / str(num)
            folder.mkdir(parents=True)
            record = {"job_num": num, "status": "completed", "seed": seed, "directions": DIRECTIONS,
                      "overrides": [f"{axis}={value}", f"seed={seed}"], "epochs": 1, "wall_time_s": 1.0,
                      "metrics": {"test/acc": acc, "val/acc_best": acc, "test/loss": 1 - acc},
                      "cost": cost(value, seed) if cost else {}}
            (folder / "results.json").write_text(json.dumps(record))
            num += 1


def test_every_arm_against_the_reference_with_scipys_statistics_and_holm(tmp_path):
    from scipy import stats as sps

    from seqvision.report import stats
    from seqvision.report.__main__ import build

    lstm = [0.950, 0.952, 0.948, 0.951, 0.949]
    arms = {"lstm": lstm, "nfg": [a - d for a, d in zip(lstm, (0.05, 0.04, 0.06, 0.05, 0.045))],
            "cifg": [a + d for a, d in zip(lstm, (0.001, -0.002, 0.0, 0.001, -0.001))]}
    _arm_trials(tmp_path, arms)
    report = build(tmp_path, reference=["model.net.cell=lstm"])
    rows = {dict(r.cell.key)["model.net.cell"]: r for r in report["comparison"]}
    assert rows["lstm"].comparison is None and rows["lstm"].verdict == "reference"
    p = [sps.ttest_rel(arms[a], lstm).pvalue for a in ("nfg", "cifg")]
    holm = stats.holm(p)
    for arm, p_raw, p_adj in zip(("nfg", "cifg"), p, holm):
        c = rows[arm].comparison
        assert c.test == "paired t" and c.p == pytest.approx(p_raw) and rows[arm].p_adjusted == pytest.approx(p_adj)
        assert c.diff == pytest.approx(statistics.fmean(arms[arm]) - statistics.fmean(lstm))
    assert rows["nfg"].verdict == "worse" and rows["nfg"].seeds is None
    assert rows["cifg"].verdict == "no detectable difference"
    assert rows["cifg"].seeds == stats.seeds_needed(rows["cifg"].comparison.effect, True, 0.05 / 2) and rows["cifg"].seeds > 5
    md = report["markdown"]
    assert "## test/acc against the reference (model.net.cell=lstm; higher is better)" in md
    assert f"| cifg | 5 | {statistics.fmean(arms['cifg']):.4f} [" in md and f"| {rows['cifg'].seeds} |" in md
    assert "Best cell by test/acc (highest mean): model.net.cell=lstm (0.9500)." in md
    assert {p.name for p in report["plots"]} >= {"test_acc_vs_reference.png"}
    # a loss is better lower: the arm with the higher accuracy has the lower loss and wins
    loss = build(tmp_path, metrics=("test/loss",), reference=["model.net.cell=nfg"], out=tmp_path / "loss")
    verdicts = {dict(r.cell.key)["model.net.cell"]: r.verdict for r in loss["comparison"]}
    assert verdicts == {"lstm": "better", "nfg": "reference", "cifg": "better"}
    assert "Best cell by test/loss (lowest mean): model.net.cell=lstm" in loss["markdown"]


def test_unpaired_arms_use_welch_and_the_default_reference_is_the_first_value(tmp_path):
    from scipy import stats as sps

    from seqvision.report.__main__ import build

    arms = {"gru": [0.90, 0.91, 0.92], "rnn": [0.70, 0.74, 0.71, 0.69]}  # seed 4 only in rnn
    _arm_trials(tmp_path, arms)
    rows = build(tmp_path)["comparison"]
    rnn = next(r for r in rows if dict(r.cell.key)["model.net.cell"] == "rnn")
    assert rnn.ref.key == (("model.net.cell", "gru"),) and rnn.comparison.test == "Welch t"
    assert rnn.comparison.p == pytest.approx(sps.ttest_ind(arms["rnn"], arms["gru"], equal_var=False).pvalue)
    assert rnn.verdict == "worse"


def test_a_reference_that_is_not_in_the_sweep_is_one_line_and_exit_2(tmp_path, capsys):
    """``python -m seqvision.report <folder> --reference ...``, in this process (the empty-folder test
    above runs the command as a process)."""
    from seqvision.report.__main__ import main

    _arm_trials(tmp_path, {"lstm": [0.9, 0.91], "nfg": [0.8, 0.82]})
    for ref, says in (("model.net.cell=xyz", "model.net.cell took no value 'xyz' in this sweep; valid: lstm, nfg"),
                      ("cell=lstm", "names no swept axis; valid: model.net.cell=lstm|nfg")):
        status = main([str(tmp_path), "--reference", ref])
        err = capsys.readouterr().err
        assert status == 2 and says in err and len(err.strip().splitlines()) == 1, err


def test_cost_table_says_not_measured_and_compute_plot_has_a_point_per_trial(tmp_path):
    from seqvision.report import pareto
    from seqvision.report.__main__ import build

    def cost(value, seed):
        flops = {"cnn": 1e12, "attention": 4e12}[value] * (1 + seed / 10)
        return {"params": 1000, "train_flops": flops, "train_seconds": flops / 1e10, "energy_j": "not measured (x)"}

    _arm_trials(tmp_path, {"cnn": [0.80, 0.82, 0.81], "attention": [0.70, 0.72, 0.71]}, axis="model", cost=cost)
    report = build(tmp_path)
    md = report["markdown"]
    assert "| cnn | 1,000 | not measured | not measured | 1.2 T |" in md  # no forward FLOPs, no samples recorded
    assert "| attention | 1,000 |" in md and "energy (J)" in md and "Energy: not measured (x)." in md
    assert " 0 |" not in md.split("## What each cell cost")[1].split("Measured")[0].replace("1,000 |", "")
    png = tmp_path / "report" / "test_acc_vs_compute.png"
    assert png in report["plots"] and png.read_bytes()[:8] == PNG
    assert pareto.front([(1, 0.5), (2, 0.4), (3, 0.7), (3, 0.6), (4, 0.7)], "max") == [(1, 0.5), (3, 0.7)]
    assert pareto.front([(1, 0.5), (2, 0.4), (3, 0.7)], "min") == [(1, 0.5), (2, 0.4)]


def test_figures_go_to_tensorboard_where_the_trials_logged_there(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from seqvision.report.__main__ import build

    _arm_trials(tmp_path, {"lstm": [0.9, 0.91], "nfg": [0.8, 0.82]})
    (tmp_path / "0" / "tensorboard").mkdir()  # a trial that logged to TensorBoard
    report = build(tmp_path)
    assert report["published"] == [tmp_path / "report" / "tensorboard"]
    events = EventAccumulator(str(tmp_path / "report" / "tensorboard"))
    events.Reload()
    assert sorted(events.Tags()["images"]) == sorted(f"report/{p.stem}" for p in report["plots"])
