#!/usr/bin/env bash
# The GPU checks in one script, about 8 minutes on one GPU; every figure goes with its log to
# benchmarks/results/<date>_<gpu>/:
#   1. experiment=cifar10_fast over seeds 1, 2, 3: test accuracy of each, the mean, wall time;
#   2. train.py's steps/s against the plain PyTorch loop at batch 512 (benchmarks/overhead.py;
#      the goal is a ratio of 0.9 or more);
#   3. a two-trial Ray sweep sharing the GPU (hydra/launcher=parallel, remote.num_gpus=0.5):
#      both trials on the same GPU, at the same time;
#   4. the resume and determinism tests, on CUDA (tests/test_resume.py, tests/test_determinism.py).
#
#   bash benchmarks/gpu_check.sh [--data-root DIR]   # CIFAR-10 and MNIST under DIR (default ../shared/data)
#   bash benchmarks/gpu_check.sh --dry-run           # any machine, CPU, seconds: every command composes
#                                                    # (train.py --cfg job), the tests are collected;
#                                                    # nothing is written
set -euo pipefail
cd "$(dirname "$0")/.."
dry=0
data_root=../shared/data
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry=1 ;;
    --data-root) data_root=${2:?--data-root needs a folder}; shift ;;
    *) echo "gpu_check.sh: unknown argument $1; valid: --dry-run, --data-root DIR" >&2; exit 2 ;;
  esac
  shift
done
py=${PYTHON:-python}
export SEQVISION_ROOT=$PWD PYTHONPATH=$PWD/src:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ $dry = 1 ]; then
  out=$work/results
  gpu="(dry run, no GPU)"
else
  if ! $py -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check.sh: no CUDA GPU visible to torch; run it on a GPU machine, or --dry-run to check the commands" >&2
    exit 2
  fi
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
  slug=$(echo "$gpu" | grep -oiE '[a-z]+[0-9]{2,}[a-z]*' | head -n 1 | tr '[:upper:]' '[:lower:]')
  out=benchmarks/results/$(date -u +%F)_${slug:-gpu}
fi
mkdir -p "$out"
echo "gpu_check: $gpu -> $out"

header() {  # header <title> <command>: what every log starts with
  echo "# $1"
  echo "# $(date -u '+%F %T UTC'), $(hostname), $gpu, torch $($py -c 'import torch; print(torch.__version__)'), load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
  echo "    $2"
}

# 1. experiment=cifar10_fast, three seeds
cifar=(experiment=cifar10_fast "data.root=$data_root" data.download=false)
if [ $dry = 1 ]; then
  $py train.py "${cifar[@]}" seed=1 --cfg job >/dev/null
  echo "ok  1. python train.py ${cifar[*]} seed=1|2|3   (composes)"
else
  log=$out/cifar10_fast_3seeds.txt
  header "experiment=cifar10_fast, seeds 1 2 3: test accuracy and wall time from the command" \
    "python train.py ${cifar[*]} seed=<s>" >"$log"
  for seed in 1 2 3; do
    start=$(date +%s.%N)
    timeout 150 $py train.py "${cifar[@]}" seed=$seed "hydra.run.dir=$work/cifar_$seed" >"$work/cifar_$seed.log" 2>&1 ||
      { tail -n 30 "$work/cifar_$seed.log" >>"$log"; echo "seed $seed FAILED (above)" >>"$log"; continue; }
    end=$(date +%s.%N)
    $py - "$work/cifar_$seed/results.json" "$seed" "$start" "$end" >>"$log" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"seed {sys.argv[2]}: test/acc {r['metrics']['test/acc']:.4f}, wall {float(sys.argv[4]) - float(sys.argv[3]):.1f} s, "
      f"epochs {r['epochs']}, training wall {r['wall_time_s']:.1f} s")
PY
  done
  $py - "$log" >>"$log" <<'PY'
import re, statistics, sys
rows = [l for l in open(sys.argv[1]) if l.startswith("seed ") and "test/acc" in l]
acc = [float(re.search(r"test/acc ([0-9.]+)", l).group(1)) for l in rows]
wall = [float(re.search(r"wall ([0-9.]+) s", l).group(1)) for l in rows]
if acc:
    print(f"mean test/acc {statistics.mean(acc):.4f} over {len(acc)} seeds (sd {statistics.stdev(acc) if len(acc) > 1 else 0:.4f}); "
          f"mean wall {statistics.mean(wall):.1f} s")
PY
  tail -n 1 "$log"
fi

# 2. framework overhead at batch 512
overhead=(benchmarks/overhead.py --config "experiment=mnist_cnn_fast" --root "$data_root" --quick -- data.batch_size=512)
if [ $dry = 1 ]; then
  $py benchmarks/overhead.py --help >/dev/null  # its own --smoke run is in the suite (test_benchmarks_smoke.py)
  $py train.py experiment=mnist_cnn_fast "data.root=$data_root" data.batch_size=512 --cfg job >/dev/null
  echo "ok  2. python ${overhead[*]}   (the overrides compose)"
else
  timeout 180 $py "${overhead[@]}" >"$out/overhead_batch512.txt" 2>&1 || echo "overhead.py FAILED" >>"$out/overhead_batch512.txt"
  grep "ratio" "$out/overhead_batch512.txt" || true
fi

# 3. two trials sharing the GPU through Ray
sweep=(-m hydra/launcher=parallel hydra.launcher.ray.init.num_gpus=1 hydra.launcher.ray.remote.num_gpus=0.5
       experiment=mnist_cnn_fast "data.root=$data_root" seed=1,2 "hydra.sweep.dir=$work/sweep")
if [ $dry = 1 ]; then
  # --cfg composes one run: the first trial, with the launcher's config (--cfg all)
  $py train.py "${sweep[@]:1:5}" seed=1 --cfg all >/dev/null
  echo "ok  3. python train.py ${sweep[*]}   (its first trial and the launcher compose)"
else
  log=$out/ray_two_trials_one_gpu.txt
  header "two trials on one GPU through Ray (remote.num_gpus=0.5): same device, overlapping in time" \
    "python train.py ${sweep[*]}" >"$log"
  start=$(date +%s.%N)
  timeout 150 $py train.py "${sweep[@]}" >"$work/sweep.log" 2>&1 || { tail -n 30 "$work/sweep.log" >>"$log"; echo "sweep FAILED (above)" >>"$log"; }
  end=$(date +%s.%N)
  $py - "$work/sweep" "$start" "$end" >>"$log" <<'PY'
import json, pathlib, sys
trials = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*/results.json"))]
for t in trials:
    print(f"trial {t.get('job_num')}: {t['status']}, test/acc {t['metrics'].get('test/acc', float('nan')):.4f}, "
          f"CUDA_VISIBLE_DEVICES={t.get('placement', {}).get('cuda_visible_devices')}, "
          f"training {t.get('started_at', 0):.1f}..{t.get('ended_at', 0):.1f}")
if len(trials) == 2:
    (a, b) = trials
    overlap = min(a["ended_at"], b["ended_at"]) - max(a["started_at"], b["started_at"])
    same = a["placement"]["cuda_visible_devices"] == b["placement"]["cuda_visible_devices"]
    print(f"same GPU: {same}; overlap {overlap:.1f} s; sweep wall {float(sys.argv[3]) - float(sys.argv[2]):.1f} s")
PY
  tail -n 1 "$log"
fi

# 4. resume and determinism tests on CUDA
tests=(tests/test_resume.py tests/test_determinism.py)
if [ $dry = 1 ]; then
  for t in "${tests[@]}"; do [ -f "$t" ] || { echo "gpu_check.sh: $t is missing" >&2; exit 1; }; done
  echo "ok  4. python -m pytest ${tests[*]}   (present; the suite runs them on CPU)"
else
  log=$out/resume_determinism_cuda.txt
  header "the resume and determinism tests, with CUDA visible (trainer accelerator auto)" "python -m pytest ${tests[*]}" >"$log"
  timeout 240 $py -m pytest -p no:cacheprovider -q "${tests[@]}" >>"$log" 2>&1 || echo "pytest FAILED (above)" >>"$log"
  tail -n 1 "$log"
fi
echo "gpu_check: done; logs in $out"
