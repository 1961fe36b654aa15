#!/usr/bin/env bash
# The demo (`make demo`): the seed's blocking thread-per-connection server,
# whose handler sleeps 1 s (get_data()), gets N concurrent clients twice:
# stock, then under gpatch. Everything on loopback; the server is stopped by
# pid at the end.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-1000}
server=$root/build/progs/sleep_server
loadgen=$root/build/tools/loadgen
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

run_one() { # mode -> prints the loadgen line
    local mode=$1 out pid port
    out=$(mktemp)
    if [ "$mode" = gpatch ]; then
        "$root/gpatch" run "$server" 0 1000 >"$out" &
    else
        "$server" 0 1000 >"$out" &
    fi
    pid=$!
    for _ in $(seq 100); do grep -q '^port' "$out" && break; sleep 0.05; done
    port=$(awk '/^port/{print $2}' "$out")
    if [ -z "$port" ]; then echo "server did not start"; kill "$pid" 2>/dev/null; return; fi
    "$loadgen" "$port" "$N" "$pid" 30
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    rm -f "$out"
}

echo "gpatch demo: $N concurrent clients, handler sleeps 1 s (machine: $(nproc) cores, $(uname -r))"
printf '%-8s %-10s %-9s %-16s %-14s\n' run answered wall_s peak_OS_threads peak_RSS_MiB
status=0
for mode in stock gpatch; do
    line=$(run_one $mode)
    ans=$(sed -n 's/.*answered=\([^ ]*\).*/\1/p' <<<"$line")
    wall=$(sed -n 's/.*wall_s=\([^ ]*\).*/\1/p' <<<"$line")
    thr=$(sed -n 's/.*peak_threads=\([^ ]*\).*/\1/p' <<<"$line")
    rss=$(sed -n 's/.*peak_rss_kib=\([^ ]*\).*/\1/p' <<<"$line")
    printf '%-8s %-10s %-9s %-16s %-14s\n' "$mode" "${ans:-?}" "${wall:-?}" "${thr:-?}" \
        "$(awk -v k="${rss:-0}" 'BEGIN{printf "%.1f", k/1024}')"
    [ "${ans%/*}" = "$N" ] || status=1
done
exit $status
