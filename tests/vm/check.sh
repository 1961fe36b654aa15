#!/bin/bash
# tests/vm/check.sh: `make test-vm`. Boots Debian 12's own kernel twice under
# qemu's software emulation, 4 vCPUs each: with an emulated CPU that has
# FSGSBASE (-cpu max: gpatch's defaults are own TLS by wrfsbase and hand-off),
# and with one that lacks it (-cpu max,-fsgsbase: shared TLS), and runs
# tests/vm/guest.sh in each. VM_CPUS narrows the list (e.g. VM_CPUS=max).
cd "$(dirname "$0")/../.."
set -o pipefail
st=0
for cpu in ${VM_CPUS:-max max,-fsgsbase}; do
  case "$cpu" in *-fsgsbase*) expect="shared TLS" ;; *) expect="wrfsbase" ;; esac
  echo "======== emulated machine: -cpu $cpu, Debian 12's kernel"
  t0=$(date +%s)
  tests/vm/run.sh --cpu "$cpu" --smp 4 --timeout "${VM_TIMEOUT:-1500}" -- \
    env VM_EXPECT_TLS="$expect" ${GPATCH_WORKERS:+GPATCH_WORKERS=$GPATCH_WORKERS} \
    ${VM_SUITES:+VM_SUITES="$VM_SUITES"} ${VM_SOAK_SECS:+VM_SOAK_SECS=$VM_SOAK_SECS} \
    bash tests/vm/guest.sh | grep -v -E '^(SeaBIOS|iPXE|Press Ctrl|Booting|$)' || st=1
  echo "======== -cpu $cpu: $(( $(date +%s) - t0 )) s"
done
exit $st
