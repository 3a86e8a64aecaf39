#!/usr/bin/env bash
# A multi-node Ray cluster on this machine (each node its own `ray start` process), for the test
# suite and CI.
#
#   bash tests/cluster/ray.sh up <folder>             # a head and a worker node; prints RAY_ADDRESS=127.0.0.1:<port>
#   bash tests/cluster/ray.sh worker <folder> <name>  # one more worker node, named <name>
#   bash tests/cluster/ray.sh kill <folder> <name>    # SIGKILL every process of node <name>: a lost machine
#   bash tests/cluster/ray.sh down <folder>           # stops every node of the cluster and removes <folder>
#
# Each node has 1 CPU and a custom resource named after it (node_head, node_worker, node_<name>),
# and is a `setsid ray start --block` process whose id is in <folder>/<name>.pid; `kill` and
# `down` stop exactly it and the processes under it. The cluster's files
# live in <folder>/tmp (keep <folder> short: Ray's sockets are there), not in /tmp/ray: a
# `ray.init()` elsewhere on the machine does not find this cluster and join it.
# Trials run by the nodes import the code on the PYTHONPATH `up` and `worker` were started with.
set -euo pipefail

usage="usage: ray.sh up|worker|kill|down <folder> [name]"
# Ray 2.5x and later start a cluster with token authentication; a test cluster whose nodes and
# clients are all on this machine goes without (a token would have to reach every client).
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled}
# Ray starts its workers at niceness 15: on a machine that also runs the rest of the test suite
# a trial would wait minutes for a core, so the test cluster's workers run at the usual 0.
export RAY_worker_niceness=${RAY_worker_niceness:-0}
action=${1:?$usage}
dir=${2:?$usage}
die() { echo "ray.sh: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_node() {  # start_node <name> <ray start arguments...>
  local name=$1
  shift
  local ports=(--node-manager-port="$(free_port)" --object-manager-port="$(free_port)"
               --dashboard-agent-listen-port="$(free_port)" --dashboard-agent-grpc-port="$(free_port)"
               --runtime-env-agent-port="$(free_port)" --metrics-export-port="$(free_port)")
  setsid ray start --block --disable-usage-stats --node-ip-address=127.0.0.1 --num-cpus=1 --num-gpus=0 \
    --resources="{\"node_$name\": 1}" "${ports[@]}" "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}

wait_for_nodes() {  # wait_for_nodes <address> <count>: at most 60 s
  python3 - "$1" "$2" <<'PY' || die "the Ray cluster did not reach $2 nodes within 60 s; see $dir/*.log"
import sys, time
import ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + 60
while sum(n["Alive"] for n in ray.nodes()) < int(sys.argv[2]):
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.5)
PY
}

alive() { [ -n "$(cat "$dir/address" 2>/dev/null)" ] || die "$dir holds no cluster of ray.sh"; }

running() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]; }

descendants() {  # every process under pid $1 (Ray's workers take process groups of their own)
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do
    echo "$child"
    descendants "$child"
  done
}

node_pids() {  # node_pids <pid file>...: each node's `ray start` and every process under it
  local file leader
  for file in "$@"; do
    leader=$(cat "$file")
    echo "$leader" $(descendants "$leader") $(pgrep -g "$leader" || true)
  done | tr ' ' '\n' | sort -u
}

stop_nodes() {  # stop_nodes <signal> <pid file>...: the signal, 3 s to stop, then SIGKILL
  local signal=$1 pids pid alive
  shift
  pids=$(node_pids "$@")
  kill "-$signal" $pids 2>/dev/null || true
  for _ in $(seq 30); do
    alive=
    for pid in $pids; do running "$pid" && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  kill -KILL $pids 2>/dev/null || true
  rm -f "$@"
}

case $action in
  up)
    mkdir -p "$dir/tmp"
    dir=$(cd "$dir" && pwd)
    port=$(free_port)
    start_node head --head --port="$port" --temp-dir="$dir/tmp" --include-dashboard=false \
      --ray-client-server-port="$(free_port)" --dashboard-port="$(free_port)"
    echo "127.0.0.1:$port" >"$dir/address"
    start_node worker --address="127.0.0.1:$port"  # it waits for the head's GCS to answer
    wait_for_nodes "127.0.0.1:$port" 2
    echo "RAY_ADDRESS=127.0.0.1:$port"
    ;;
  worker)
    alive
    name=${3:?$usage}
    address=$(cat "$dir/address")
    count=$(ls "$dir"/*.pid | wc -l)
    start_node "$name" --address="$address"
    wait_for_nodes "$address" $((count + 1))
    ;;
  kill)
    alive
    stop_nodes KILL "$dir/${3:?$usage}.pid"
    ;;
  down)
    [ -d "$dir" ] || exit 0
    alive
    pidfiles=("$dir"/*.pid)
    [ -e "${pidfiles[0]}" ] && stop_nodes TERM "${pidfiles[@]}"
    rm -rf "$dir"
    ;;
  *) die "$usage" ;;
esac
