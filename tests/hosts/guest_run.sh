#!/bin/sh
# The hosts tier inside the systemd + cgroup v2 guest (run as root by vcbench-hosts.service).
# Each step's stdout, stderr and exit code go to /carry/out/steps/, one JSON line per step to
# /carry/out/steps.jsonl; the host-side test reads them back from the carry disk.
set -u
OUT=/carry/out
mkdir -p "$OUT/steps"
export PYTHONPATH=/carry/src:/carry/site
export XDG_CACHE_HOME=/carry/cache VCBENCH_RESULTS="$OUT/results" VCBENCH_REPORTS="$OUT/reports"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
VCBENCH="python3 -m bench.cli.main"
RUN_ARGS="--quiet --seed 1 --no-compare --experiments none --accel tcg --vcpus 1 --memory 256"

step() {
    name=$1
    shift
    start=$(cut -d' ' -f1 /proc/uptime)
    "$@" > "$OUT/steps/$name.out" 2> "$OUT/steps/$name.err"
    rc=$?
    end=$(cut -d' ' -f1 /proc/uptime)
    echo "{\"step\": \"$name\", \"rc\": $rc, \"start\": $start, \"end\": $end}" >> "$OUT/steps.jsonl"
    echo "VCBENCH-HOSTS step $name rc=$rc at $end s" > /dev/console
}

facts() {
    echo "pid1 $(cat /proc/1/comm)"
    echo "cgroupfs $(stat -fc %T /sys/fs/cgroup)"
    echo "cmdline $(cat /proc/cmdline)"
    echo "controllers $(cat /sys/fs/cgroup/cgroup.subtree_control)"
    echo "kernel $(uname -r)"
}

# The image spec's key reads the host's apt sources: the guest gets the very same file.
mkdir -p "$(dirname "$(cat /carry/sources.path)")"
cp /carry/sources "$(cat /carry/sources.path)"

step facts facts
# Nothing answers yet, so host setup must start every daemon through systemctl.
step stop-daemons systemctl stop docker.socket docker.service containerd.service \
    libvirtd.service libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket \
    virtlogd.service virtlogd.socket virtlogd-admin.socket
step setup python3 -m bench.host setup
step setup-again python3 -m bench.host setup
step units systemctl is-active containerd.service docker.service libvirtd.service virtlogd.service
step doctor $VCBENCH doctor --json --no-probe
step images $VCBENCH images build
step run-tiny $VCBENCH run --suite tiny --platforms native,docker,podman,gvisor $RUN_ARGS
step collectors python3 /carry/src/tests/hosts/guest_checks.py
step run-oom env VCBENCH_WORKLOADS=/carry/src/tests/hosts/workloads \
    $VCBENCH run --workload hosts-oom --platforms native $RUN_ARGS
step gc $VCBENCH gc
step leftovers python3 -c 'import json
from bench.core import dockerd
from bench.platforms import gc
client = dockerd.connect(timeout=30)
print(json.dumps([i.describe() for i in gc.find(client, None, include_alive=True).found]))'
journalctl -b --no-pager > "$OUT/journal.txt" 2>&1
