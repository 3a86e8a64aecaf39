#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the test suite and CI.
#
#   bash tests/cluster/slurm.sh up <folder>    # prints SLURM_CONF=<folder>/slurm.conf once `srun true` answers
#   bash tests/cluster/slurm.sh down <folder>  # stops what `up` started and removes <folder>
#
# `up` installs slurm-wlm and munge with apt-get when they are missing (as root), writes a munge
# key, slurm.conf and every state, spool, log and pid file under <folder> (keep it short: munge's
# socket lives there), starts munged, slurmctld and slurmd, and waits at most 60 s for `srun true`.
# Commands reach this cluster with SLURM_CONF=<folder>/slurm.conf in their environment; nothing
# outside <folder> is configured, so a SLURM installation of the machine is left alone.
# `down` cancels the cluster's jobs, then stops exactly the daemons whose pid files `up` wrote.
set -euo pipefail

usage="usage: slurm.sh up|down <folder>"
action=${1:?$usage}
dir=${2:?$usage}
die() { echo "slurm.sh: $*" >&2; exit 1; }

have_slurm() { command -v slurmctld && command -v slurmd && command -v srun && command -v munged; } >/dev/null

install() {
  have_slurm && return 0
  [ "$(id -u)" = 0 ] || die "slurm-wlm and munge are not installed, and installing them needs root (apt-get install slurm-wlm munge)"
  command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed, and there is no apt-get to install them"
  local log=$dir/apt.log
  (
    flock 9  # one installer at a time (test processes may start clusters side by side)
    have_slurm && exit 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends slurm-wlm munge >"$log" 2>&1 ||
      { apt-get update -q >>"$log" 2>&1 && apt-get install -y -q --no-install-recommends slurm-wlm munge >>"$log" 2>&1; } ||
      die "apt-get install slurm-wlm munge failed; see $log"
  ) 9>/tmp/seqvision-apt.lock
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop() {  # stop the process of a pid file: TERM, then KILL after 10 s
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

fail() {  # a failed start stops what it started, keeps the folder (its logs), and says why
  stop "$dir/slurmd.pid"
  stop "$dir/slurmctld.pid"
  stop "$dir/munged.pid"
  die "$@"
}

up() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  install
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  chmod 711 "$dir"  # munge's socket needs the execute bit on its folder
  # munge: a key and a daemon of this cluster's own
  dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge.key"
  munged --force --socket="$dir/munge.sock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge.seed" || fail "munged did not start; see $dir/log/munged.log"

  local host node nodename ctld_port slurmd_port
  host=$(hostname -s)
  # the node as slurmd sees the hardware (CPUs, sockets, cores, threads, memory), minus its uptime
  node=$(slurmd -C 2>/dev/null | head -n 1)
  [[ $node == NodeName=* ]] || die "slurmd -C did not describe this node: $node"
  nodename=${node%% *}
  nodename=${nodename#NodeName=}
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  cat >"$dir/slurm.conf" <<CONF
# Written by tests/cluster/slurm.sh: a one-node cluster whose files all live in $dir.
ClusterName=seqvision
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# no cgroups, no accounting daemon: what a container without systemd offers
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=10
# a stopped job gets SIGTERM, then SIGKILL after KillWait seconds (clusters use 30 or more)
KillWait=5
OverTimeLimit=0
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
$node State=UNKNOWN
PartitionName=debug Nodes=$nodename Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start; see $dir/log/slurmctld.log"
  slurmd -f "$SLURM_CONF" || fail "slurmd did not start; see $dir/log/slurmd.log"

  local deadline=$((SECONDS + 60))
  until [ "$(sinfo -h -o %t 2>/dev/null | head -n 1)" = idle ]; do
    for daemon in slurmctld slurmd; do  # a daemon that stopped (a fatal error) ends the wait at once
      if [ -f "$dir/$daemon.pid" ] && ! kill -0 "$(cat "$dir/$daemon.pid")" 2>/dev/null; then
        fail "$daemon stopped; see $dir/log/$daemon.log"
      fi
    done
    [ $SECONDS -lt $deadline ] || fail "the node did not become idle within 60 s; see $dir/log/slurmctld.log and slurmd.log"
    sleep 0.5
  done
  until timeout 20 srun --immediate=10 -N 1 -n 1 -t 1 true 2>>"$dir/log/srun.log"; do
    [ $SECONDS -lt $deadline ] || fail "\`srun true\` did not answer within 60 s; see $dir/log/srun.log"
    sleep 1
  done
  echo "SLURM_CONF=$SLURM_CONF"
}

down() {
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/slurm.conf" ] || die "$dir holds no slurm.conf of slurm.sh; not touching it"
  export SLURM_CONF=$dir/slurm.conf
  if [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    scancel --full --user="$(id -un)" 2>/dev/null || true  # this cluster's jobs only (SLURM_CONF)
    for _ in $(seq 150); do
      [ -z "$(squeue -h -o %i -t pending,running,completing,suspended,requeued 2>/dev/null | head -n 1)" ] && break
      sleep 0.1
    done
  fi
  stop "$dir/slurmd.pid"
  stop "$dir/slurmctld.pid"
  stop "$dir/munged.pid"
  rm -rf "$dir"
}

case $action in
  up) up ;;
  down) down ;;
  *) die "$usage" ;;
esac
