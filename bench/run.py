#!/usr/bin/python3
"""bench/run.py — `make bench`: gpatch against stock threads and a native libuv
server, measured side by side in one run, alternating, medians of repeated
runs. Writes bench/RESULTS.md, bench/results.dat, bench/peers.dat and bench/rps.png.

Everything talks to 127.0.0.1 only and stops by itself. Servers are pinned to
CPU 0 and wrk to CPU 1 (taskset), so client and server do not share a core.
"""
import datetime
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

from common import *  # noqa: F401,F403 (ROOT, B, LIB, RUNS, DUR, QUICK, commands, run, med, Server, wrk...)
import workers


# ---- micro -------------------------------------------------------------------
def micro():
    res = {k: [] for k in ["raw", "raw_called", "ratio_called_raw", "floor", "ratio_floor_raw", "yield_gp", "pipe_stock", "cond_stock", "pipe_gp", "cond_gp",
                           "spawn_stock", "spawn_gp", "ratio_yield_raw", "ratio_spawn"]}
    for _ in range(RUNS):
        raw = float(run([B + "/bench/raw_fcontext", "20000000"]))
        rc = float(run([B + "/bench/raw_fcontext", "20000000", "called"]))
        fl = float(run([B + "/bench/switch", "yield", "2000000"], "floor"))
        y = float(run([B + "/bench/switch", "yield", "2000000"], "gpatch"))
        ps = float(run([B + "/bench/switch", "pipe", "100000"]))
        cs = float(run([B + "/bench/switch", "condvar", "100000"]))
        pg = float(run([B + "/bench/switch", "pipe", "200000"], "gpatch"))
        cg = float(run([B + "/bench/switch", "condvar", "1000000"], "gpatch"))
        ss = float(run([B + "/bench/spawn", "50000"]))
        sg = float(run([B + "/bench/spawn", "200000"], "gpatch"))
        for k, v in [("raw", raw), ("raw_called", rc), ("floor", fl), ("yield_gp", y), ("pipe_stock", ps), ("cond_stock", cs), ("pipe_gp", pg),
                     ("cond_gp", cg), ("spawn_stock", ss), ("spawn_gp", sg)]:
            res[k].append(v)
        res["ratio_yield_raw"].append(y / raw)
        res["ratio_called_raw"].append(rc / raw)
        res["ratio_floor_raw"].append(fl / raw)
        res["ratio_spawn"].append(ss / sg)
    return res


def memory():
    res = {"stock": [], "gpatch": [], "threads_stock": [], "threads_gp": [], "kern_stock": [], "kern_gp": []}
    n = 2000 if QUICK else 10000
    for _ in range(3):
        for mode in ("stock", "gpatch"):
            kib, thr, kern = run([B + "/bench/memory", str(n)], mode).split()[:3]
            res[mode].append(float(kib))
            res["threads_stock" if mode == "stock" else "threads_gp"].append(int(thr))
            res["kern_stock" if mode == "stock" else "kern_gp"].append(float(kern))
    limits = {}
    cap = 20000 if QUICK else 60000
    for mode in ("stock", "gpatch"):
        e = env_for(mode)
        e["MAX"] = "1"
        cmd = [B + "/bench/memory", str(cap)]
        commands.append(("MAX=1 " + ("LD_PRELOAD=build/libgpatch.so " if mode == "gpatch" else "")) + " ".join(cmd))
        out = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=600).stdout.strip()
        limits[mode] = out
    return res, limits, n


def many():
    """100,000 green threads blocked in read() in one process (gpatch only:
    stock stops at pid_max, the MAX=1 line above says where), default
    sysctls and the default stack size: memory per thread, OS threads, maps."""
    n = 20000 if QUICK else 100000
    res = {"kib": [], "kern": [], "made": [], "thr": [], "maps": []}
    for _ in range(3):
        try:
            f = run([B + "/bench/memory", str(n)], "gpatch", timeout=900).split()
        except subprocess.TimeoutExpired:
            f = []
        if len(f) < 5:
            res["made"].append(0)
            continue
        res["kib"].append(float(f[0]))
        res["thr"].append(int(f[1]))
        res["kern"].append(float(f[2]))
        res["made"].append(int(f[3]))
        res["maps"].append(int(f[4]))
    return res, n


def many_lines(mg, n, lim):
    L = [f"## {n:,} green threads blocked in read() in one process\n"]
    L.append("`bench/memory N` under gpatch, default sysctls, default stack size (RLIMIT_STACK's 8 MiB), 3 runs; "
             "stock is not run at this N (it stops at pid_max: the MAX=1 line above).\n")
    L.append("| threads made | RSS KiB per thread | kernel KiB per thread (KernelStack + PageTables + unreclaimable slab) "
             "| OS threads | memory maps while blocked | vm.max_map_count |")
    L.append("|---|---|---|---|---|---|")
    L.append(f"| {', '.join(str(x) for x in mg['made'])} | {fmt_range(mg['kib'], '{:.2f}')} | "
             f"{fmt_range(mg['kern'], '{:.2f}')} | {max(mg['thr']) if mg['thr'] else 'n/a'} | "
             f"{fmt_range(mg['maps'], '{:.0f}')} | {lim['vm.max_map_count']} |")
    L.append("\nStacks are carved from arenas (many per mmap): guard pages under the first ones while half of "
             "vm.max_map_count allows (two maps each), a canary checked at every switch under the rest "
             "(GPATCH_STACK_GUARD, README). The kernel figure is mostly page tables: stacks 8 MiB apart need a "
             "page-table page each.\n")
    return L


# ---- own TLS against shared TLS (issue 10) -------------------------------------
def run_tls(cmd, tls, extra=None):
    """cmd under gpatch with GPATCH_TLS=tls (own or shared)"""
    e = env_for("gpatch")
    e["GPATCH_TLS"] = tls
    e.update(extra or {})
    commands.append(f"GPATCH_TLS={tls} LD_PRELOAD=build/libgpatch.so " + " ".join(cmd))
    return subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=600).stdout.strip()


def tls_modes():
    """Own TLS against shared TLS in the same run, alternating within each
    round: the yield round trip, spawn+join, the memory of a blocked green
    thread (RSS + the kernel's share), and what one load of the thread
    pointer costs here (arch_prctl, or wrfsbase where the CPU has it)."""
    r = {k: [] for k in ["y_own", "y_sh", "s_own", "s_sh", "fs", "plain", "m_own", "m_sh", "k_own", "k_sh", "grow"]}
    hw = ""
    for _ in range(RUNS):
        fs, hw, plain = run([B + "/bench/fsbase", "20000"]).split()
        r["plain"].append(float(plain))
        yo = float(run_tls([B + "/bench/switch", "yield", "20000"], "own"))
        ys = float(run_tls([B + "/bench/switch", "yield", "2000000"], "shared"))
        so = float(run_tls([B + "/bench/spawn", "20000"], "own"))
        ss = float(run_tls([B + "/bench/spawn", "200000"], "shared"))
        for k, v in [("fs", float(fs)), ("y_own", yo), ("y_sh", ys), ("s_own", so), ("s_sh", ss)]:
            r[k].append(v)
        r["grow"].append(yo - ys)
    n = 2000 if QUICK else 10000
    for _ in range(3):
        for tls, m, k in (("own", "m_own", "k_own"), ("shared", "m_sh", "k_sh")):
            kib, _thr, kern = run_tls([B + "/bench/memory", str(n)], tls).split()[:3]
            r[m].append(float(kib))
            r[k].append(float(kern))
    r["hw"], r["n"] = hw, n
    return r


def tls_lines(t):
    L = [f"## Own TLS against shared TLS (GPATCH_TLS=own / shared, same run)\n"]
    L.append(f"This machine: {'wrfsbase available' if t['hw'] == 'wrfsbase' else 'no FSGSBASE (AT_HWCAP2 bit 1 clear)'}: "
             f"a switch loads the thread pointer with {'wrfsbase' if t['hw'] == 'wrfsbase' else 'the arch_prctl(ARCH_SET_FS) system call'}.\n")
    L.append("| measurement | own TLS | shared TLS | target |")
    L.append("|---|---|---|---|")
    L.append(f"| yield round trip, ns (`bench/switch yield`) | {fmt_range(t['y_own'])} | {fmt_range(t['y_sh'])} | own grows ≤ 10 ns |")
    L.append(f"| spawn+join, ns (`bench/spawn`) | {fmt_range(t['s_own'])} | {fmt_range(t['s_sh'])} | < 2,000 |")
    L.append(f"| RSS per green thread blocked in read(), KiB ({t['n']} threads) | {fmt_range(t['m_own'], '{:.2f}')} | "
             f"{fmt_range(t['m_sh'], '{:.2f}')} | |")
    L.append(f"| kernel KiB per blocked green thread (KernelStack + unreclaimable slab, machine-wide) | "
             f"{fmt_range(t['k_own'], '{:.1f}')} | {fmt_range(t['k_sh'], '{:.1f}')} | |")
    L.append(f"| one arch_prctl(ARCH_SET_FS), ns (`bench/fsbase`, stock) | {fmt_range(t['fs'])} | | |")
    L.append(f"| one plain system call (getppid), ns (`bench/fsbase`, stock) | {fmt_range(t['plain'])} | | |")
    L.append("")
    return L


def tls_standing(t):
    grow, fs = med(t["grow"]), med(t["fs"])
    rest = grow - 2 * fs
    allin = max(med(t["m_own"]) + med(t["k_own"]), med(t["m_own"]))
    so = med(t["s_own"])
    L = []
    line = f"- **Own TLS: a yield round trip grows ≤ 10 ns: {'met' if grow <= 10 else 'not met'} (+{grow:,.0f} ns, median of per-round differences).**"
    if t["hw"] != "wrfsbase":
        line += (f" A round trip is two switches, each loading the thread pointer; without FSGSBASE that is the "
                 f"arch_prctl system call, {fs:,.0f} ns each here (a plain system call, getppid, costs "
                 f"{med(t['plain']):,.0f} ns: system calls are slow on this VM, and this one {fs / med(t['plain']):.1f}× "
                 f"more so), so 2 × {fs:,.0f} = "
                 f"{2 * fs:,.0f} ns of the growth; the other {rest:,.0f} ns are not explained by the call timed alone in a warm "
                 f"loop (in a switch it runs between two stacks, on a loaded shared machine). With wrfsbase "
                 f"(Linux ≥ 5.9 on a CPU with FSGSBASE) the load is a few ns; that is why gpatch picks shared TLS here "
                 f"for programs that have no thread-local variables of their own.")
    L.append(line)
    L.append(f"- **Own TLS: a blocked green thread costs ≤ 12 KiB all in: {'met' if allin <= 12 else 'not met'} "
             f"({allin:.1f} KiB: {med(t['m_own']):.2f} RSS + {max(med(t['k_own']), 0):.1f} kernel; shared TLS "
             f"{med(t['m_sh']):.2f} RSS).** The block is glibc's own layout: its thread descriptor (2,304 bytes) and "
             f"the static TLS of every loaded module, with the DTV.")
    line = f"- **Own TLS: spawn+join < 2 µs: {'met' if so < 2000 else 'not met'} ({so:,.0f} ns; shared TLS {med(t['s_sh']):,.0f} ns).**"
    if t["hw"] != "wrfsbase" and so >= 2000:
        line += (f" Each spawn+join switches into the new green thread and back: two thread-pointer loads, "
                 f"2 × {fs:,.0f} ns by arch_prctl here; without them {so - 2 * fs:,.0f} ns (the block itself, "
                 f"made and freed by the loader's allocator, is about 2,300 instructions per spawn+join under callgrind).")
    L.append(line + "\n")
    return L


def read_limits():
    def rd(p):
        try:
            return open(p).read().strip()
        except OSError:
            return "?"
    return {
        "vm.max_map_count": rd("/proc/sys/vm/max_map_count"),
        "kernel.threads-max": rd("/proc/sys/kernel/threads-max"),
        "kernel.pid_max": rd("/proc/sys/kernel/pid_max"),
        "RLIMIT_NOFILE": subprocess.run(["bash", "-c", "ulimit -n"], capture_output=True, text=True).stdout.strip(),
        "RLIMIT_NPROC": subprocess.run(["bash", "-c", "ulimit -u"], capture_output=True, text=True).stdout.strip(),
    }


# ---- servers -------------------------------------------------------------------
def servers():
    variants = {
        "stock": ("stock", [B + "/bench/http_keepalive", "0"]),
        "gpatch": ("gpatch", [B + "/bench/http_keepalive", "0"]),
        "native": ("stock", [B + "/bench/uv_http", "0"]),
    }
    levels = [50, 1000] if QUICK else [50, 1000, 10000]
    res = {}
    for conns in levels:
        for _ in range(RUNS):
            for name, (mode, argv) in variants.items():  # alternating: stock, gpatch, native, stock...
                s = Server(mode, argv)
                try:
                    rps, p50, p99, errs, cpu = wrk(s.port, conns)
                except Exception as e:  # a server that fails under the load is a result too
                    rps, p50, p99, errs, cpu = 0.0, float("nan"), float("nan"), f"wrk failed: {e}", (float("nan"), float("nan"))
                    print(f"bench: {name} at {conns} connections: {errs}", flush=True)
                rss = s.stop()
                r = res.setdefault((conns, name), {"rps": [], "p50": [], "p99": [], "rss": [], "thr": [], "errs": [],
                                                   "wrk_cpu": []})
                r["wrk_cpu"].append(cpu)
                r["rps"].append(rps)
                r["p50"].append(p50)
                r["p99"].append(p99)
                r["rss"].append(rss / 1024)
                r["thr"].append(s.peak_threads)
                if errs:
                    r["errs"].append(errs)
    return res, levels


# ---- a worker-pool server (tests/progs/pool_http.c) ----------------------------
POOL_CASES = [(50, 100), (1000, 5000)]  # (connections, worker threads)
# where the server may run: "free" (any core: stock's threads use both, sharing
# wrk's; gpatch has one worker OS thread) and "CPU 0" (one core each, as the rows above)
POOL_PLACES = [("free", None), ("CPU 0", "0")]


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks"""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return 0


def pool_stats(conns, workers):
    """One gpatch run with GPATCH_STATS=1 (`gpatch run --stats`): pool jobs,
    switches and parks per request answered (the server counts its answers
    and prints them when SIGTERM ends it; the stats follow at exit)."""
    e = env_for("gpatch")
    e["GPATCH_STATS"] = "1"
    cmd = [B + "/progs/pool_http", "0", str(workers)]
    commands.append("GPATCH_STATS=1 LD_PRELOAD=build/libgpatch.so " + " ".join(cmd))
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline().split()[1])
        wrk(port, conns)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    except Exception as ex:
        p.kill()
        p.wait()
        print(f"bench: pool_http stats at {conns} connections: {ex}", flush=True)
        return None
    m_ans, m_jobs, m_sw = (re.search(r, t) for r, t in ((r"answered (\d+)", out), (r"pool jobs (\d+)", err),
                                                        (r"switches (\d+)", err)))
    if not (m_ans and m_jobs and m_sw) or not int(m_ans.group(1)):
        print(f"bench: pool_http stats at {conns} connections: no counts in {out!r} {err[-200:]!r}", flush=True)
        return None
    tail = err.split("parks by reason:", 1)
    parks = sum(int(x) for x in re.findall(r" (\d+)", tail[1])) if len(tail) > 1 else 0
    n = int(m_ans.group(1))
    return {"answered": n, "jobs": int(m_jobs.group(1)), "jobs_per_req": int(m_jobs.group(1)) / n,
            "switches_per_req": int(m_sw.group(1)) / n, "parks_per_req": parks / n}


def pool_server():
    """The worker-pool keep-alive server, stock against gpatch in alternating
    rounds, wrk as for the thread-per-connection rows, the server free to run
    on any core and pinned to one; the server's CPU time per request (from
    /proc over the wrk run) says where a shortfall comes from. Then one
    --stats run per case."""
    res = {}
    for conns, workers in POOL_CASES:
        for place, cpus in POOL_PLACES:
            for _ in range(RUNS):
                for mode in ("stock", "gpatch"):
                    s = Server(mode, [B + "/progs/pool_http", "0", str(workers)], cpus)
                    c0 = cpu_ticks(s.p.pid)
                    try:
                        rps, p50, p99, errs, _ = wrk(s.port, conns)
                    except Exception as e:
                        rps, p50, p99, errs = 0.0, float("nan"), float("nan"), f"wrk failed: {e}"
                        print(f"bench: pool_http {mode} ({place}) at {conns} connections: {errs}", flush=True)
                    c1 = cpu_ticks(s.p.pid)
                    if not rps and not errs:  # wrk's latencies of no request at all are not figures
                        p50, p99, errs = float("nan"), float("nan"), "no request answered"
                    rss = s.stop()
                    r = res.setdefault((conns, place, mode), {"rps": [], "p50": [], "p99": [], "rss": [], "thr": [],
                                                              "errs": [], "cpu_us": [], "cores": []})
                    r["rps"].append(rps)
                    r["p50"].append(p50)
                    r["p99"].append(p99)
                    r["rss"].append(rss / 1024)
                    r["thr"].append(s.peak_threads)
                    secs = (c1 - c0) / os.sysconf("SC_CLK_TCK")
                    r["cores"].append(secs / DUR)  # cores the server kept busy
                    if rps:  # its CPU µs per request
                        r["cpu_us"].append(secs * 1e6 / (rps * DUR))
                    if errs:
                        r["errs"].append(errs)
    stats = {c: pool_stats(c, w) for c, w in POOL_CASES}
    return res, stats


def pool_lines(pv):
    res, stats = pv
    def ratio(a, b):
        return med([x / y for x, y in zip(a, b) if y]) if any(b) else float("inf")
    L = ["## Servers: a worker pool (acceptor thread, mutex + condition queue), wrk\n",
         "tests/progs/pool_http.c: one acceptor thread polls the listening socket and accepts, and hands each "
         "connection through a mutex + condition queue to one of N worker threads; a worker logs the peer of every "
         "request with `getnameinfo(NI_NUMERICHOST | NI_NUMERICSERV)`, polls before each `recv` and answers with "
         f"a 512-byte file by `sendfile`, keep-alive. `wrk -t1 -cN -d{DUR}s --latency` on CPU 1. The server runs "
         "*free* (no taskset: stock's threads spread over both cores, sharing wrk's; gpatch has one worker OS "
         "thread) or pinned to *CPU 0* (one core each, as the rows above). Server cores busy and CPU per request: "
         "its user + system time over the wrk run.\n",
         "| conns | workers | server on | run | req/s | p50 ms | p99 ms | server cores busy | server CPU µs per request | peak RSS MiB | peak OS threads | errors |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c, w in POOL_CASES:
        for place, _ in POOL_PLACES:
            for mode in ("stock", "gpatch"):
                r = res[(c, place, mode)]
                errs = "; ".join(sorted(set(r["errs"])))[:80]
                L.append(f"| {c} | {w} | {place} | {mode} | {fmt_range(r['rps'], '{:.0f}')} | {med(r['p50']):.2f} | "
                         f"{med(r['p99']):.2f} | {med(r['cores']):.2f} | {med(r['cpu_us']):.1f} | {med(r['rss']):.1f} | "
                         f"{max(r['thr'])} | {errs} |")
    L.append("")
    ratios = {}
    for c, w in POOL_CASES:
        for place, _ in POOL_PLACES:
            g, s = res[(c, place, "gpatch")], res[(c, place, "stock")]
            ratios[(c, place)] = (ratio(g["rps"], s["rps"]),
                                  med(g["p99"]) / med(s["p99"]) if med(s["p99"]) else float("nan"),
                                  med(g["cpu_us"]) / med(s["cpu_us"]) if s["cpu_us"] and g["cpu_us"] else float("nan"),
                                  med(s["cores"]), med(g["cores"]))
            q = ratios[(c, place)]
            L.append(f"- {c:,} connections, {w:,} workers, server {place}: gpatch / stock **{q[0]:.2f}** req/s; p99 "
                     f"{q[1]:.2f}× stock's; server CPU per request {q[2]:.2f}× stock's")
    for c, w in POOL_CASES:
        st = stats.get(c)
        if st:
            L.append(f"- `--stats` (GPATCH_STATS=1), {c:,} connections: **{st['jobs_per_req']:.4f} pool jobs per request** "
                     f"({st['jobs']} for {st['answered']} requests: the numeric getnameinfo is answered on the green "
                     f"thread); {st['switches_per_req']:.2f} switches and {st['parks_per_req']:.2f} parks per request (counted "
                     f"from the start: the workers' first waits are in them)")
        else:
            L.append(f"- `--stats`, {c:,} connections: no counts (see the run's output)")
    L.append("")
    return L, ratios, stats


def pool_standing(ratios, stats):
    """the issue's target: ≥ stock at 50 and 1,000 connections, stock free to
    use every core; core for core (both on CPU 0) as the explanation"""
    says = lambda ok: "met" if ok else "not met"
    free = {c: ratios[(c, "free")] for c, _ in POOL_CASES}
    pinned = {c: ratios[(c, "CPU 0")] for c, _ in POOL_CASES}
    ok = all(q[0] >= 1 for q in free.values())
    jobs = [stats[c]["jobs_per_req"] for c, _ in POOL_CASES if stats.get(c)]
    L = [f"- **Worker-pool server ≥ stock at 50 and 1,000 connections: {says(ok)}** ("
         + "; ".join(f"{c:,}: {q[0]:.2f}×, p99 {q[1]:.2f}× stock's, {says(q[0] >= 1)}" for c, q in free.items())
         + ", each server free to use both cores). Core for core (both pinned to CPU 0): "
         + ", ".join(f"{q[0]:.2f}× at {c:,}" for c, q in pinned.items()) + "."
         + (f" Pool jobs per request under gpatch: {max(jobs):.4f}." if jobs else "")]
    if not ok:
        why = []
        for c, q in free.items():
            if q[0] >= 1:
                continue
            if q[3] > 1.1 * q[4] and q[4] >= 0.85:  # gpatch's one worker saturated, stock used more
                why.append(f"at {c:,} gpatch's one worker OS thread kept {q[4]:.2f} of a core busy while stock's threads "
                           f"used {q[3]:.2f} cores (server CPU per request {q[2]:.2f}× stock's)")
            elif q[3] > 1.1 * q[4]:  # neither saturated: the machine was shared
                why.append(f"at {c:,} gpatch's one worker OS thread got {q[4]:.2f} of a core, stock's threads {q[3]:.2f} "
                           f"cores (server CPU per request {q[2]:.2f}× stock's): the machine was busy with other work, "
                           f"and the kernel gives each runnable thread its turn; stock has {dict(POOL_CASES)[c]:,} to gpatch's one")
            elif q[2] > 1.05:
                why.append(f"at {c:,} gpatch spent {q[2]:.2f}× stock's server CPU per request ({q[4]:.2f} of a core busy "
                           f"against stock's {q[3]:.2f})")
            else:
                why.append(f"at {c:,} neither server was CPU-bound ({q[3]:.2f} cores busy stock, {q[4]:.2f} gpatch, "
                           f"CPU per request {q[2]:.2f}× stock's): the shortfall is waiting, not work")
        L.append("  What stands in the way, measured: " + "; ".join(why) + ". gpatch runs every green thread on one "
                 "worker OS thread (`GPATCH_WORKERS` is not implemented yet): stock's threads can spread over both "
                 "cores, gpatch's cannot; the pinned rows compare one core with one core.")
    L.append("")
    return L


def listen_overflows():
    """the kernel's count of connections dropped because a listen queue was
    full (TcpExt ListenOverflows: the SYN is dropped, the client retries a
    second later, then two more)"""
    try:
        lines = [ln.split() for ln in open("/proc/net/netstat") if ln.startswith("TcpExt:")]
        return int(dict(zip(lines[0][1:], lines[1][1:]))["ListenOverflows"])
    except (OSError, IndexError, KeyError, ValueError):
        return -1


def seed():
    res = {}
    levels = [1000] if QUICK else [1000, 10000]
    for n in levels:
        for _ in range(3):
            for mode in ("stock", "gpatch"):
                s = Server(mode, [B + "/progs/sleep_server", "0", "1000"])
                cmd = ["taskset", "-c", "1", B + "/tools/loadgen", str(s.port), str(n), str(s.p.pid), "60"]
                commands.append(" ".join(cmd))
                lo = listen_overflows()
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
                lo = listen_overflows() - lo if lo >= 0 else -1
                s.stop()
                d = dict(kv.split("=") for kv in out.split())
                r = res.setdefault((n, mode), {"ok": [], "wall": [], "thr": [], "rss": [], "lo": []})
                r["lo"].append(lo)
                r["ok"].append(d["answered"])
                r["wall"].append(float(d["wall_s"]))
                r["thr"].append(int(d["peak_threads"]))
                r["rss"].append(int(d["peak_rss_kib"]) / 1024)
    return res, levels


def put_alone(L, flag, rounds, mark, before=None, edit=None):
    """A section measured on its own (`python3 bench/run.py FLAG`): L gets
    the line that says so, and replaces the section that starts with mark
    in RESULTS.md (placed before the section `before` if there is none yet);
    edit, if given, changes the whole new text before it is written."""
    L[0] = L[0].rstrip("\n") + "\n"
    L.insert(1, f"Measured on its own by `python3 bench/run.py {flag}` on "
                f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} UTC ({rounds}, alternating); "
                f"the other sections are from the last full `make bench`.\n")
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    text = open(path).read()
    if mark in text or before is None:
        head, _, rest = text.partition(mark)
        tail = rest[rest.index("\n## ") + 1:]
    else:
        head, _, tail = text.partition(before)
        tail = before + tail
    text = head + "\n".join(L) + "\n" + tail
    open(path, "w").write(edit(text) if edit else text)


def seed_lines(sd, seed_levels):
    L = []
    L.append("## The seed scenario: the handler sleeps 1 s\n")
    L.append("| clients | run | answered | wall s | peak OS threads | peak RSS MiB | listen overflows |")
    L.append("|---|---|---|---|---|---|---|")
    for n in seed_levels:
        for mode in ("stock", "gpatch"):
            r = sd[(n, mode)]
            lo = r.get("lo") or [-1]
            L.append(f"| {n} | {mode} | {', '.join(sorted(set(r['ok'])))} | {fmt_range(r['wall'], '{:.3f}')} | "
                     f"{max(r['thr'])} | {med(r['rss']):.1f} | "
                     f"{fmt_range(lo, '{:.0f}') if min(lo) >= 0 else 'not read'} |")
    L.append("\n`tests/tools/loadgen` (never preloaded, one thread, epoll) opens every connection at once and "
             "sends each request as soon as its connection is open. Listen overflows: the kernel's count "
             "(TcpExt ListenOverflows) over the run, connections whose SYN was dropped because the server's "
             "listen queue (4,096, net.core.somaxconn here) was full; each retries after 1 s (then 3 s), so "
             "any overflow puts the wall time past 2 s, whatever the server does afterwards.\n")
    big = max(seed_levels)
    if (big, "gpatch") in sd:
        r = sd[(big, "gpatch")]
        w, thr = med(r["wall"]), max(r["thr"])
        ok = w <= 1.5 and thr == 1 and all(a == f"{big}/{big}" for a in r["ok"])
        if big < 10000:
            L.append("Target: 10,000 clients in ≤ 1.5 s wall on one OS thread — not measured in this run (BENCH_QUICK).\n")
        else:
            L.append(f"Target: 10,000 clients in ≤ 1.5 s wall on one OS thread — {big:,} clients: {w:.3f} s median "
                     f"on {thr} OS thread(s): {'met' if ok else 'not met'}.\n")
    else:
        L.append("Target: 10,000 clients in ≤ 1.5 s wall on one OS thread.\n")
    return L


def stuck():
    """The stuck-thread server (bench/progs/stuck_server.c): the latency of 16
    connections served by a thread-per-connection server while one of its
    threads sits 2 s in a read no preload sees. Stock; gpatch with own TLS,
    where hand-off is on by default (10 ms), with one worker and with two;
    and with hand-off off (GPATCH_HANDOFF_MS=0: what shared TLS gives too,
    gpatch's default for this server on a CPU without wrfsbase), alternating
    within each round."""
    variants = {
        "stock": {},
        "gpatch, hand-off 10 ms": {"LD_PRELOAD": LIB, "GPATCH_TLS": "own", "GPATCH_HANDOFF_MS": "10"},
        "gpatch, hand-off 10 ms, 2 workers": {"LD_PRELOAD": LIB, "GPATCH_TLS": "own", "GPATCH_HANDOFF_MS": "10",
                                              "GPATCH_WORKERS": "2"},
        "gpatch, no hand-off": {"LD_PRELOAD": LIB, "GPATCH_TLS": "own", "GPATCH_HANDOFF_MS": "0"},
    }
    res = {k: {"p50": [], "p99": [], "max": [], "n": []} for k in variants}
    for _ in range(RUNS):
        for name, extra in variants.items():
            e = dict(os.environ)
            e.pop("LD_PRELOAD", None)
            e.update(extra)
            cmd = [B + "/bench/stuck_server"]
            commands.append(" ".join(f"{k}={v}" for k, v in extra.items()).replace(ROOT + "/", "") + " " + cmd[0])
            try:
                out = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60).stdout
                d = dict(kv.split("=") for kv in out.split())
                for k in ("p50", "p99", "max"):
                    res[name][k].append(float(d[k + "_ms"]))
                res[name]["n"].append(int(d["n"]))
            except Exception as ex:  # a run that fails is left out, and said
                print(f"bench: stuck-thread server, {name}: {ex}", flush=True)
    L = ["## The stuck-thread server: one thread in an unhookable read for 2 s\n",
         "16 connections, one 64-byte request each every 10 ms, latency from the scheduled send "
         "(bench/progs/stuck_server.c), over the 2 s one server thread sits in a read made by an inline syscall "
         "instruction.\n",
         "| server | p50 ms | p99 ms | max ms | answers in the 2 s |", "|---|---|---|---|---|"]
    for name, r in res.items():
        L.append(f"| {name} | {fmt_range(r['p50'], '{:.2f}')} | {fmt_range(r['p99'], '{:.2f}')} | "
                 f"{fmt_range(r['max'], '{:.1f}')} | {fmt_range(r['n'], '{:.0f}')} |")
    L.append("")
    return res, L


def stuck_standing(res):
    s, g = res["stock"]["p99"], res["gpatch, hand-off 10 ms"]["p99"]
    if not s or not g:
        return ["- Stuck-thread server, p99 within 2× of stock's: not measured (the runs failed)."]
    r = med(g) / med(s)
    return [f"- **Stuck-thread server, p99 of the other connections within 2× of stock's: "
            f"{'met' if r <= 2 else 'not met'} ({r:.2f}×; {med(g):.1f} ms against {med(s):.1f} ms; without "
            f"hand-off {med(res['gpatch, no hand-off']['p99']) if res['gpatch, no hand-off']['p99'] else float('nan'):.0f} ms).** "
            f"Two workers with hand-off: {med(res['gpatch, hand-off 10 ms, 2 workers']['p99']) if res['gpatch, hand-off 10 ms, 2 workers']['p99'] else float('nan'):.1f} ms. "
            f"Hand-off is on by default (GPATCH_HANDOFF_MS=10) wherever green threads have their own TLS; this server has "
            f"no thread-local data, so on this CPU (no wrfsbase) gpatch gives it shared TLS by default and it stalls as in "
            f"the last row unless run with GPATCH_TLS=own. The first 10 ms, and the monitor's look before it signals, are "
            f"the floor of what hand-off adds.\n"]


# ---- peers: what a user would pick instead of gpatch ----------------------------
PY = "/usr/bin/python3"  # Debian's, where python3-gevent is installed
PY_SERVER = os.path.join(ROOT, "bench", "peers", "py_keepalive.py")


def peer_variants():
    """name -> (mode, argv, connection levels). Every server is pinned to CPU 0 by
    Server: one core each, as gevent, GOMAXPROCS=1 and gpatch's one worker have."""
    py_levels = [50, 1000]
    go_levels = [50, 1000] if QUICK else [50, 1000, 10000]
    return {
        "py stock": ("stock", [PY, PY_SERVER, "0"], py_levels),
        "py gevent": ("stock", [PY, PY_SERVER, "0", "gevent"], py_levels),
        "py gpatch": ("gpatch", [PY, PY_SERVER, "0"], py_levels),
        "Go GOMAXPROCS=1": ("stock", ["env", "GOMAXPROCS=1", B + "/bench/go_keepalive", "0"], go_levels),
        "C gpatch": ("gpatch", [B + "/bench/http_keepalive", "0"], go_levels),
    }


def peer_missing():
    """Why the peers cannot run here, or None."""
    why = []
    if subprocess.run([PY, "-c", "import gevent"], capture_output=True).returncode:
        why.append(f"{PY} cannot import gevent (Debian's python3-gevent)")
    if not os.access(B + "/bench/go_keepalive", os.X_OK):
        why.append("build/bench/go_keepalive is not built (Debian's golang-go; `make bench-build`)")
    return "; ".join(why) or None


def proc_cpu(pid):
    """CPU seconds (user, system) a process and its threads have used so far."""
    try:
        f = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
        return int(f[11]) / os.sysconf("SC_CLK_TCK"), int(f[12]) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except OSError:
        return 0.0, 0.0


def peer_round(name, mode, argv, conns, res):
    """One server, one wrk run: its figures appended to res[(conns, name)]."""
    s = Server(mode, argv)
    c0, t0 = proc_cpu(s.p.pid), time.time()
    try:
        rps, p50, p99, errs, cpu = wrk(s.port, conns)
    except Exception as e:  # a server that fails under the load is a result too
        rps, p50, p99, errs, cpu = 0.0, float("nan"), float("nan"), f"wrk failed: {e}", (float("nan"), 0.0)
        print(f"bench: {name} at {conns} connections: {errs}", flush=True)
    c1, t1 = proc_cpu(s.p.pid), time.time()
    rss = s.stop()
    r = res.setdefault((conns, name), {"rps": [], "p50": [], "p99": [], "rss": [], "thr": [], "errs": [], "busy": [],
                                       "us_req": [], "sys": [], "wrk": []})
    r["wrk"].append(cpu[0])  # wrk's share of its core
    used = (c1[0] - c0[0]) + (c1[1] - c0[1])
    r["busy"].append(used / (t1 - t0))  # the server's share of its core while wrk ran
    if rps:
        r["us_req"].append(used / (rps * DUR) * 1e6)  # CPU per request (wrk's rate over its DUR seconds)
    r["sys"].append((c1[1] - c0[1]) / used if used else float("nan"))  # the kernel's part of it
    r["rps"].append(rps)
    r["p50"].append(p50)
    r["p99"].append(p99)
    r["rss"].append(rss / 1024)
    r["thr"].append(s.peak_threads)
    if errs:
        r["errs"].append(errs)


def peer_workers():
    """How many OS threads the C server runs on under gpatch with GPATCH_WORKERS=2,
    at 50 connections: 1 while gpatch has one worker (the variable is then
    ignored). The GOMAXPROCS=2 row waits for more."""
    res = {}
    peer_round("probe", "gpatch", ["env", "GPATCH_WORKERS=2", B + "/bench/http_keepalive", "0"], 50, res)
    return max(res[(50, "probe")]["thr"])


def peers():
    """The peers of issue 12, measured in this run: the same plain-Python
    thread-per-connection server stock, under gevent and under gpatch; the same
    responder in Go (GOMAXPROCS=1) against the C server under gpatch. Rounds
    alternate all of them at each level; medians of RUNS rounds."""
    missing = peer_missing()
    if missing:
        print(f"bench: peers not measured: {missing}", flush=True)
        return {"missing": missing}
    variants = peer_variants()
    res = {}
    for conns in sorted({c for _, _, lv in variants.values() for c in lv}):
        for _ in range(RUNS):
            for name, (mode, argv, lv) in variants.items():
                if conns in lv:
                    peer_round(name, mode, argv, conns, res)
    return {"res": res, "workers": peer_workers(), "variants": variants}


def peer_ratio(res, conns, a, b):
    """Median of per-round ratios a/b at conns (the rounds alternate, so round i of
    each was measured side by side)."""
    x, y = res[(conns, a)]["rps"], res[(conns, b)]["rps"]
    rs = [p / q for p, q in zip(x, y) if q]
    return med(rs) if rs else (float("inf") if any(x) else float("nan"))


def peers_section(pr):
    L = ["## Peers: gevent and Go, one server core each\n"]
    if "missing" in pr:
        return L + [f"Not measured in this run: {pr['missing']}.\n"]
    res, variants = pr["res"], pr["variants"]
    L.append(f"The same keep-alive answer, `wrk -t1 -cN -d{DUR}s`, every server pinned to CPU 0 (wrk on CPU 1), "
             f"{RUNS} rounds alternating every row of a level; medians (min–max).\n")
    L.append("- `py`: bench/peers/py_keepalive.py, a plain-Python thread per connection (socket + threading) on "
             f"Debian's {PY} ({run([PY, '--version'])}); `py stock` on OS threads, "
             "`py gevent` after gevent's `monkey.patch_all()` (threads become greenlets on one OS thread), "
             "`py gpatch` under LD_PRELOAD=build/libgpatch.so.")
    L.append("- `Go GOMAXPROCS=1`: bench/peers/go_keepalive.go, a goroutine per connection on package net "
             "(Debian's golang-go); `C gpatch`: bench/progs/http_keepalive under gpatch (one worker), measured "
             "again in these rounds.\n")
    L.append("| conns | server | req/s | p50 ms | p99 ms | server's core busy | server CPU µs per request (kernel's part) | "
             "peak RSS MiB | peak OS threads | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for c in sorted({c for _, _, lv in variants.values() for c in lv}):
        for name, (_, _, lv) in variants.items():
            if c in lv:
                r = res[(c, name)]
                errs = "; ".join(sorted(set(r["errs"])))[:80]
                L.append(f"| {c} | {name} | {fmt_range(r['rps'], '{:.0f}')} | {med(r['p50']):.2f} | {med(r['p99']):.2f} | "
                         f"{med(r['busy']) * 100:.0f} % | {med(r['us_req']):.1f} ({med(r['sys']) * 100:.0f} %) | "
                         f"{med(r['rss']):.1f} | {max(r['thr'])} | {errs} |")
    L.append("")
    for c in sorted({c for c, n in res if n == "py gpatch"}):
        L.append(f"- {c} connections: py gpatch / py gevent **{peer_ratio(res, c, 'py gpatch', 'py gevent'):.2f}**, "
                 f"py gpatch / py stock **{peer_ratio(res, c, 'py gpatch', 'py stock'):.2f}**, "
                 f"py gevent / py stock **{peer_ratio(res, c, 'py gevent', 'py stock'):.2f}**")
    for c in sorted({c for c, n in res if n == "C gpatch"}):
        L.append(f"- {c} connections: C gpatch / Go GOMAXPROCS=1 **{peer_ratio(res, c, 'C gpatch', 'Go GOMAXPROCS=1'):.2f}**")
    L.append(f"- GOMAXPROCS=2 against two workers: {peer_two_workers(pr)}")
    thr = max(max(r["thr"]) for (c, n), r in res.items() if n == "py gevent")
    if thr == 1:
        L.append("\ngevent patched threading: in every run the gevent server stayed on 1 OS thread "
                 "(stock: one per connection).\n")
    else:
        L.append(f"\ngevent did NOT keep the server on one OS thread: it peaked at {thr} (its patch of "
                 f"threading failed, or gevent started threads of its own).\n")
    return L


def peer_two_workers(pr):
    w = pr["workers"]
    if w <= 1:
        return (f"pending: gpatch has one worker (under GPATCH_WORKERS=2 the C server ran on {w} OS thread at "
                f"50 connections).")
    return (f"GPATCH_WORKERS=2 ran the C server on {w} OS threads: this run.py does not measure that row yet "
            f"(it needs the servers given two cores).")


def peers_standing(pr):
    """Rows of "Where the targets stand" for the peers, from the figures; where a
    target is not met, the CPU each server spent per request says what stands
    in the way."""
    def says(ok):
        return "met" if ok else "not met"
    if "missing" in pr:
        return [f"- Peers (gpatch ≥ 1.5× gevent; ≥ Go): not measured in this run ({pr['missing']})."]
    res, L = pr["res"], []

    def verdict(c, a, b, target):
        r = peer_ratio(res, c, a, b)
        if r != r:  # nan: neither answered a request
            return f"{c:,} connections: neither answered ({'; '.join(sorted(set(res[(c, a)]['errs'])))[:80]}), not met"
        return f"{c:,} connections: {r:.2f}×, {says(r >= target)}"

    def cpu(c, n):
        r = res[(c, n)]
        return med(r["us_req"]), med(r["sys"]), med(r["busy"]), med(r["wrk"])

    def why(c, a, b):
        """The CPU per request of a and b at c, and the most a/b could be were a's
        user-space cost nothing (its kernel part left: the same socket calls)."""
        (ua, ka, ba, wa), (ub, kb, bb, wb) = cpu(c, a), cpu(c, b)
        if not (ua == ua and ub == ub):
            return ""
        s = (f" At {c:,}: {a} spent {ua:.1f} µs of CPU per request ({ka * 100:.0f} % of it in the kernel), "
             f"{b} {ub:.1f} µs ({kb * 100:.0f} %)")
        if ua * ka > 0:
            s += f"; {a}'s kernel part alone allows at most {ub / (ua * ka):.2f}× {b}"
        if min(ba, bb) < 0.9:
            s += (f"; the server's core was only {ba * 100:.0f} % / {bb * 100:.0f} % busy, wrk's {wa * 100:.0f} % / "
                  f"{wb * 100:.0f} %: " + ("wrk's one thread, not the server, set the pace" if min(wa, wb) >= 0.9
                                          else "the machine's other load, not the server, set the pace"))
        return s + "."

    py = sorted({c for c, n in res if n == "py gpatch"})
    L.append("- The same Python server under gpatch ≥ 1.5× under gevent: " +
             "; ".join(verdict(c, "py gpatch", "py gevent", 1.5) for c in py) + "." +
             "".join(why(c, "py gpatch", "py gevent") for c in py
                     if not peer_ratio(res, c, "py gpatch", "py gevent") >= 1.5))
    go = sorted({c for c, n in res if n == "C gpatch"})
    L.append("- The C server under gpatch (one worker) ≥ Go with GOMAXPROCS=1: " +
             "; ".join(verdict(c, "C gpatch", "Go GOMAXPROCS=1", 1) for c in go) + "." +
             ("" if 10000 in go else " 10,000 connections not measured in this run (BENCH_QUICK).") +
             "".join(why(c, "C gpatch", "Go GOMAXPROCS=1") for c in go
                     if not peer_ratio(res, c, "C gpatch", "Go GOMAXPROCS=1") >= 1))
    L.append(f"- gpatch ≥ Go with GOMAXPROCS=2 against two workers: {peer_two_workers(pr)}")
    return L


def peers_dat(pr):
    """bench/peers.dat for rps.gp: one line per level, '-' where a server was not run."""
    cols = ["py stock", "py gevent", "py gpatch", "Go GOMAXPROCS=1", "C gpatch"]
    with open(os.path.join(ROOT, "bench", "peers.dat"), "w") as f:
        f.write("# conns " + " ".join(c.replace(" ", "_") for c in cols) + " (requests/s, medians; - not run)\n")
        res = pr.get("res", {})
        for c in sorted({c for c, _ in res}):
            f.write(f"{c} " + " ".join(f"{med(res[(c, n)]['rps']):.0f}" if (c, n) in res else "-" for n in cols) + "\n")


# ---- instruction counts per request (callgrind: stable on a noisy machine) ---
def callgrind_self(path):
    """Each function's own instructions (not its callees') in a callgrind
    output file, most first: [((function, object), Ir)]. Its copies in
    inlined files and its recursion levels (name'2) count as one."""
    names, cost = {}, {}
    ob = fn = None
    skip = False
    for line in open(path):
        m = re.match(r"(ob|fn|cob|cfi|cfl|cfn|fl|fi|fe)=(?:\((\d+)\))? ?(.*)", line.rstrip("\n"))
        if m:
            kind = {"cob": "ob", "cfn": "fn"}.get(m.group(1), m.group(1) if m.group(1) in ("ob", "fn") else "fl")
            name = m.group(3) if m.group(3) else names.get((kind, m.group(2)), "?")
            if m.group(2) and m.group(3):
                names[(kind, m.group(2))] = m.group(3)
            if m.group(1) == "ob":
                ob = name
            elif m.group(1) == "fn":
                fn = name
            continue
        if line.startswith("calls="):
            skip = True  # the next line is the call's inclusive cost
            continue
        if not line[:1] or line[0] not in "0123456789+-*":
            continue
        if skip:
            skip = False
            continue
        key = ((fn or "?").split("'")[0], os.path.basename(ob or "?"))
        cost[key] = cost.get(key, 0) + int(line.split()[-1])
    return sorted(cost.items(), key=lambda kv: -kv[1])


PROFILE_TARGET = 960  # instructions per request: 1.2x the native server's 800
profile_result = {}   # what profile() measured, for standing()


def callgrind_per_request(name, mode, argv, extra=None):
    """A server under callgrind, 10 connections: after 1 s of wrk to warm up,
    the counters are zeroed and 3 s of wrk counted. (instructions per
    request, requests, the top 10 functions by their own count)"""
    out = f"/tmp/gpatch-cg.{name.replace(' ', '_')}.{os.getpid()}"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--max-stackframe=20000000"] + argv
    pre = "".join(f"{k}={v} " for k, v in (extra or {}).items())
    commands.append(pre + ("LD_PRELOAD=build/libgpatch.so " if mode == "gpatch" else "") + " ".join(cmd[:3] + argv))
    env = env_for(mode)
    env.update(extra or {})
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(p.stdout.readline().split()[1])
    url = f"http://127.0.0.1:{port}/"
    subprocess.run(["wrk", "-t1", "-c10", "-d1s", url], capture_output=True, text=True)
    subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, text=True)
    w = subprocess.run(["wrk", "-t1", "-c10", "-d3s", url], capture_output=True, text=True)
    reqs = int(re.search(r"(\d+) requests in", w.stdout).group(1))
    subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, text=True)
    p.send_signal(signal.SIGTERM)  # not SIGINT: a background job ignores it
    p.wait()
    dumps = sorted((f for f in os.listdir("/tmp") if f.startswith(os.path.basename(out) + ".")),
                   key=lambda f: int(f.rsplit(".", 1)[1]))
    if dumps:  # the dump after the counted run; the one at exit holds only the shutdown
        os.unlink(out)
        os.rename(os.path.join("/tmp", dumps[0]), out)
        for f in dumps[1:]:
            os.unlink(os.path.join("/tmp", f))
    total = 0
    for line in open(out):
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
            break
    top = [(ir / reqs, fn, ob) for (fn, ob), ir in callgrind_self(out)[:10]]
    os.unlink(out)
    return total / reqs, reqs, top


# ---- preemption (GPATCH_PREEMPT_MS) ---------------------------------------------
def preempt():
    """Fairness: the stuck-thread server's client (16 connections, a request
    each every 10 ms, latency from the scheduled send) while two of the
    server's threads compute for the 2 s (`stuck_server compute`), server not
    pinned: stock; gpatch cooperative (GPATCH_PREEMPT_MS=0); gpatch's
    defaults; and own TLS. Cost: the keep-alive server (CPU 0, wrk on CPU 1,
    50 connections) with preemption off and on, requests/s, alternating; and
    callgrind's instructions per request for both."""
    fair = {
        "stock": {},
        "gpatch, cooperative (GPATCH_PREEMPT_MS=0)": {"LD_PRELOAD": LIB, "GPATCH_PREEMPT_MS": "0"},
        "gpatch, defaults (preemption on, 10 ms)": {"LD_PRELOAD": LIB},
        "gpatch, defaults, GPATCH_TLS=own": {"LD_PRELOAD": LIB, "GPATCH_TLS": "own"},
    }
    fres = {k: {"p50": [], "p99": [], "max": [], "n": []} for k in fair}
    cost = {"preemption off": {"GPATCH_PREEMPT_MS": "0"}, "preemption on": {}}
    cres = {k: [] for k in cost}
    for _ in range(RUNS):
        for name, extra in fair.items():
            e = dict(os.environ)
            e.pop("LD_PRELOAD", None)
            e.update(extra)
            cmd = [B + "/bench/stuck_server", "compute"]
            commands.append(" ".join(f"{k}={v}" for k, v in extra.items()).replace(ROOT + "/", "") + " " + " ".join(cmd))
            try:
                out = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60).stdout
                d = dict(kv.split("=") for kv in out.split())
                for k in ("p50", "p99", "max"):
                    fres[name][k].append(float(d[k + "_ms"]))
                fres[name]["n"].append(int(d["n"]))
            except Exception as ex:
                print(f"bench: computing server, {name}: {ex}", flush=True)
        for name, extra in cost.items():
            s = Server("gpatch", [B + "/bench/http_keepalive", "0"], extra=extra)
            try:
                cres[name].append(wrk(s.port, 50)[0])
            except Exception as ex:
                print(f"bench: keep-alive, {name}: {ex}", flush=True)
            s.stop()
    ipr = {}
    for name, extra in cost.items():
        try:
            ipr[name] = callgrind_per_request(name, "gpatch", [B + "/bench/http_keepalive", "0"], extra)[0]
        except Exception as ex:
            print(f"bench: callgrind, {name}: {ex}", flush=True)
    return fres, cres, ipr


def preempt_lines(res):
    fres, cres, ipr = res
    L = ["## Preemption: two threads compute beside 16 connections\n",
         "Fairness: `bench/progs/stuck_server.c compute`: 16 connections, one 64-byte request each every 10 ms, "
         "latency from the scheduled send, over the 2 s two of the server's threads compute in a loop that makes no "
         "call; the server is not pinned (2 cores, shared with the client). Target: the defaults' p99 within 2× "
         "stock's.\n",
         "| server | p50 ms | p99 ms | max ms | answers in the 2 s |", "|---|---|---|---|---|"]
    for name, r in fres.items():
        L.append(f"| {name} | {fmt_range(r['p50'], '{:.2f}')} | {fmt_range(r['p99'], '{:.2f}')} | "
                 f"{fmt_range(r['max'], '{:.1f}')} | {fmt_range(r['n'], '{:.0f}')} |")
    off, on = cres["preemption off"], cres["preemption on"]
    L.append("")
    L.append("Cost: the keep-alive server under gpatch (CPU 0; `wrk -t1 -c50` on CPU 1), preemption off "
             "(`GPATCH_PREEMPT_MS=0`) and on, alternating; and instructions per request under callgrind "
             "(10 connections, as `make profile`). Target: ≤ 2 % apart.\n")
    L.append("| | requests/s | instructions per request |")
    L.append("|---|---|---|")
    for name in ("preemption off", "preemption on"):
        L.append(f"| {name} | {fmt_range(cres[name], '{:.0f}')} | "
                 f"{ipr[name]:.0f} |" if name in ipr else f"| {name} | {fmt_range(cres[name], '{:.0f}')} | - |")
    L.append("")
    s, d = fres["stock"]["p99"], fres["gpatch, defaults (preemption on, 10 ms)"]["p99"]
    if s and d:
        r = med(d) / med(s)
        L.append(f"- **Fairness, defaults' p99 within 2× stock's: {'met' if r <= 2 else 'not met'} ({r:.2f}×; "
                 f"{med(d):.1f} ms against {med(s):.1f} ms; cooperative "
                 f"{med(fres['gpatch, cooperative (GPATCH_PREEMPT_MS=0)']['p99']) if fres['gpatch, cooperative (GPATCH_PREEMPT_MS=0)']['p99'] else float('nan'):.0f} ms).** "
                 "The slice is counted in CPU time at the kernel's tick (HZ=250 here: 4 ms): a request that arrives "
                 "while a thread computes waits until that thread has run a period (2 ms) and the next tick comes, "
                 "then runs before the preempted; stock's scheduler preempts the computing thread at the wake-up.")
    if off and on:
        r = med([a / b for a, b in zip(on, off) if b])  # each round's on against the off run beside it
        L.append(f"- **Cost, throughput with preemption on against off: {(r - 1) * 100:+.1f} %** (the median of "
                 f"{min(len(on), len(off))} rounds' ratios; {med(on):.0f} against {med(off):.0f} requests/s, medians).")
    if len(ipr) == 2:
        r = ipr["preemption on"] / ipr["preemption off"]
        L.append(f"- **Cost, instructions per request: {(r - 1) * 100:+.2f} %** "
                 f"({ipr['preemption on']:.0f} against {ipr['preemption off']:.0f}).")
    L.append("")
    return L


def profile():
    """The keep-alive server under callgrind, 10 connections: after 1 s of
    wrk to warm up (connections made, threads created, the loader's and the
    runtime's start-up done), the counters are zeroed, 3 s of wrk are
    counted: instructions per request, gpatch vs the native libuv server,
    and where gpatch's go."""
    rows = {}
    for name, mode, argv in (("native", "stock", [B + "/bench/uv_http", "0"]),
                             ("gpatch", "gpatch", [B + "/bench/http_keepalive", "0"])):
        rows[name] = callgrind_per_request(name, mode, argv)
    profile_result.update(native=rows["native"][0], gpatch=rows["gpatch"][0])

    L = ["## Profile: instructions per request (callgrind)\n",
         "The keep-alive server under `valgrind --tool=callgrind`, `wrk -t1 -c10 -d3s` against it, counted after "
         "1 s of the same to warm up (`make profile` makes just this section); counts "
         "include the server's own request parsing (memmem), the same in both. The count depends a little on how "
         "many requests one loop turn finds ready (fewer on a loaded machine: the per-turn costs are shared by "
         "fewer).\n",
         f"- native libuv: **{rows['native'][0]:.0f}** instructions per request ({rows['native'][1]} requests)",
         f"- gpatch: **{rows['gpatch'][0]:.0f}** instructions per request ({rows['gpatch'][1]} requests)\n",
         "Where gpatch's go (per request, each function's own):\n", "| instructions | function | object |", "|---|---|---|"]
    for ir, fn, f in rows["gpatch"][2]:
        L.append(f"| {ir:.0f} | {fn} | {f} |")
    return L


def standing(mi, mem, server_ratios, mg=None, nmany=0):
    """Where the issue's targets stand, with this run's figures, and why the
    ones that are not met cannot be on this machine."""
    ry, rf, rcr = med(mi["ratio_yield_raw"]), med(mi["ratio_floor_raw"]), med(mi["ratio_called_raw"])
    rm = med(mem["gpatch"]) / med(mem["stock"])
    rk = (med(mem["gpatch"]) + med(mem["kern_gp"])) / (med(mem["stock"]) + med(mem["kern_stock"]))
    L = ["## Where the targets stand\n"]
    def says(ok):
        return "met" if ok else "not met"
    L.append(f"- **Yield ≤ 2× a raw jump: {says(ry <= 2)} ({ry:.2f}×).** "
             f"The same two jumps made inside a called function cost {rcr:.2f}× raw, and a preloaded sched_yield "
             f"that does nothing but jump {rf:.2f}× (rows above) — most likely the return-stack predictor missing "
             f"the return into a different caller after every switch. gpatch's bookkeeping adds "
             f"{(ry / rf - 1) * 100:.0f} % to that floor.")
    L.append(f"- **RSS per blocked thread ≤ 1/4 of stock: {says(rm <= 0.25)} ({rm:.2f}).** A parked green thread keeps the top "
             f"page of its own stack resident (4 KiB: its blocked call's frames live there, well under a page of "
             f"them in use), against {med(mem['stock']):.1f} KiB for a stock thread, so that one page is already "
             f"{4 / med(mem['stock']):.2f} of stock. Lower needs parked stacks moved (frames copied out, the page given back), which breaks any "
             f"C program that hands a pointer into its stack to another thread or to the kernel while it waits; "
             f"gpatch does not do it."
             + (f" Counting the kernel memory RSS leaves out (stack and task structures of each OS thread), gpatch "
                f"is {rk:.2f} of stock." if rk > 0 else ""))
    if mg is not None:
        ok = bool(mg["made"]) and all(m == 100000 for m in mg["made"])
        if nmany < 100000:
            L.append(f"- 100,000 green threads blocked in read(): not measured in this run (BENCH_QUICK: {nmany:,}).")
        else:
            L.append(f"- **100,000 green threads blocked in read() in one process: {says(ok)}** (made "
                     f"{', '.join(str(x) for x in mg['made'])} in 3 runs; {fmt_range(mg['kib'], '{:.2f}')} KiB RSS and "
                     f"{fmt_range(mg['kern'], '{:.2f}')} KiB kernel memory per thread, "
                     f"{fmt_range(mg['maps'], '{:.0f}')} maps).")
    big = max(server_ratios)
    rn, rs, ns, wcpu, wsys = server_ratios[big]
    if big < 10000:
        L.append("- ≥ 2× stock at 10,000 connections: not measured in this run (BENCH_QUICK).")
    else:
        L.append(f"- **≥ 2× stock at {big:,} connections: {says(rs >= 2)} ({rs:.2f}×).** The native libuv server reaches "
                 f"{ns:.2f}× stock in the same run, and gpatch {rn:.2f} of native: both cores are busy, the server's and "
                 f"wrk's, whose one thread keeps its core {wcpu * 100:.0f} % busy ({wsys * 100:.0f} % of that in the kernel: "
                 f"loopback TCP, the same whichever server answers).")
    if profile_result:
        g, n = profile_result["gpatch"], profile_result["native"]
        L.append(f"- **≤ {PROFILE_TARGET} instructions per keep-alive request: {says(g <= PROFILE_TARGET)} "
                 f"({g:.0f}; native {n:.0f}, {g / n:.2f}×).** The profile above says where they go.")
    for c in sorted(server_ratios):
        if c < 10000:
            L.append(f"- ≥ 0.90 of native at {c:,} connections: {server_ratios[c][0]:.2f}, {says(server_ratios[c][0] >= 0.9)}"
                     + (f"; ≥ stock: {server_ratios[c][1]:.2f}×, {says(server_ratios[c][1] >= 1)}" if c == min(server_ratios) else "")
                     + ".")
    sw = min(med(mi["pipe_stock"]), med(mi["cond_stock"])) / med(mi["yield_gp"])
    sp = med(mi["ratio_spawn"])
    L.append(f"- Switch ≥ 20× faster than an OS-thread ping-pong: {sw:.0f}×, {says(sw >= 20)}. "
             f"Spawn+join ≤ 1/10 of stock: 1/{sp:.0f}, {says(sp >= 10)}. The seed scenario: its table.\n")
    return L


# ---- a real database server: MariaDB, stock vs gpatch (tests/real/mariadb.py) ----
def mariadb():
    """Rounds of tests/real/mariadb.py, the two modes alternating first; its
    figures per mode, its failures, and the lines for RESULTS.md."""
    import json
    import tempfile
    rounds = 1 if QUICK else int(os.environ.get("BENCH_MARIADB_ROUNDS", "3"))
    figs = {"stock": [], "gpatch": []}
    fails, version, secs = [], "", []
    for i in range(rounds):
        modes = "stock,gpatch" if i % 2 == 0 else "gpatch,stock"
        with tempfile.NamedTemporaryFile(suffix=".json") as tf:
            cmd = ["/usr/bin/python3", os.path.join(ROOT, "tests", "real", "mariadb.py"), "--lib", LIB,
                   "--modes", modes, "--json", tf.name]
            commands.append("tests/real/mariadb.py --modes " + modes)
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            if r.returncode == 77:
                return None, ["## MariaDB 10.11, stock vs gpatch\n", "Not measured: MariaDB is not installed "
                              "(`make test-real` installs it).\n"]
            try:
                d = json.load(open(tf.name))
            except (OSError, ValueError):
                fails.append("round %d: no results (exit %d): %s" % (i, r.returncode, r.stdout[-300:]))
                continue
        version, secs = d["version"], secs + [d["seconds"]]
        fails += ["round %d: %s" % (i, x) for x in d["failures"]]
        for f in d["figures"]:
            figs[f["mode"]].append(f)

    def col(mode, k):
        return [f[k] for f in figs[mode] if f.get(k) is not None]

    def cell(mode, k, fmt="{:.2f}"):
        return fmt_range(col(mode, k), fmt)

    def ratio(k):
        a, b = med(col("gpatch", k)), med(col("stock", k))
        return a / b if b else float("nan")
    L = ["## MariaDB 10.11, stock vs gpatch\n",
         f"`mariadbd {version.split(' Ver ')[-1].split(' for ')[0].strip()}` (Debian's mariadb-server) from a throwaway datadir with default "
         f"settings (max_connections=1000), {rounds} round(s) of tests/real/mariadb.py, the two servers one after "
         f"the other in each (about {med(secs):.0f} s a round), medians (min–max). Times are wall seconds seen by "
         f"the clients; lower is better.\n",
         "| measurement | stock | gpatch | gpatch / stock |", "|---|---|---|---|"]
    L.append(f"| 250 concurrent `SELECT SLEEP(4)` (mysqlslap), wall s | {cell('stock', 'sleep_wall_s')} | "
             f"{cell('gpatch', 'sleep_wall_s')} | {ratio('sleep_wall_s'):.2f} |")
    L.append(f"| the server's peak OS threads meanwhile | {cell('stock', 'threads_peak', '{:.0f}')} | "
             f"{cell('gpatch', 'threads_peak', '{:.0f}')} | {ratio('threads_peak'):.3f} |")
    L.append(f"| `mysqlslap --concurrency=200 --auto-generate-sql --iterations=3`, its average s | "
             f"{cell('stock', 'slap_avg_s')} | {cell('gpatch', 'slap_avg_s')} | {ratio('slap_avg_s'):.2f} |")
    L.append(f"| 200 clients: 4,000 updates of one row + 4,000 inserts, s | {cell('stock', 'count_wall_s')} | "
             f"{cell('gpatch', 'count_wall_s')} | {ratio('count_wall_s'):.2f} |")
    L.append(f"| the server's CPU s for the whole run | {cell('stock', 'cpu_s')} | {cell('gpatch', 'cpu_s')} | "
             f"{ratio('cpu_s'):.2f} |")
    L.append(f"| start to first answer, s | {cell('stock', 'start_s')} | {cell('gpatch', 'start_s')} | |")
    L.append("")
    L.append("Checks in every round (failures listed below): a client answered, all 250 sleepers connected at once "
             "(Max_used_connections), mysqlslap without errors, the counter and the table exact and every result "
             "the same as stock's, `mariadb-admin shutdown` with exit 0 and 'Shutdown complete'.\n")
    L += ["- " + x.replace("\n", " ") for x in fails[:10]]
    if fails:
        L.append("")
    return {"figs": figs, "fails": fails}, L


def md_ratio(figs, k):
    """gpatch's median over stock's for one MariaDB figure"""
    a = med([f[k] for f in figs["gpatch"] if f.get(k) is not None])
    b = med([f[k] for f in figs["stock"] if f.get(k) is not None])
    return a / b if b else float("nan")


def mariadb_standing(md):
    """The MariaDB target (issue 12): met / not met from this run's figures."""
    if md is None:
        return ["- MariaDB: not measured (not installed).\n"]
    figs, fails = md["figs"], md["fails"]

    def ratio(k):
        return md_ratio(figs, k)
    sw = med([f["sleep_wall_s"] for f in figs["gpatch"] if f.get("sleep_wall_s")])
    sws = med([f["sleep_wall_s"] for f in figs["stock"] if f.get("sleep_wall_s")])
    thr = max([f.get("threads_peak") or 0 for f in figs["gpatch"]] or [0])
    ok = not fails and figs["gpatch"] and sw <= max(5.0, 1.1 * sws) and 0 < thr <= 25
    return [f"- **MariaDB 10.11 starts, answers 250 concurrent SLEEP(4) in about 4 s with far fewer OS threads "
            f"than stock, passes mysqlslap and shuts down cleanly: {'met' if ok else 'not met'}** ({sw:.2f} s against "
            f"stock's {sws:.2f} s, at most {thr} OS threads against one per connection; "
            f"{len(fails)} failed check(s)).",
            f"- MariaDB at least as fast as stock under load: mysqlslap's mixed load "
            f"{'met' if ratio('slap_avg_s') <= 1 else 'not met'} ({ratio('slap_avg_s'):.2f}× stock's time), "
            f"contended updates and inserts {'met' if ratio('count_wall_s') <= 1 else 'not met'} "
            f"({ratio('count_wall_s'):.2f}×). With one worker the server's queries run on one core; stock's run on "
            f"both; the server's CPU time is {ratio('cpu_s'):.2f}× stock's (row above).\n"]


def main():
    if sys.argv[1:] == ["--tls-only"]:  # a quick look: prints, writes nothing
        t = tls_modes()
        print("\n".join(tls_lines(t) + tls_standing(t)))
        return
    if sys.argv[1:] == ["--profile"]:  # make profile: print the count and the target's row, write nothing
        L = profile()
        g = profile_result["gpatch"]
        print("\n".join(L))
        print(f"\ninstructions per request: gpatch {g:.0f}, native {profile_result['native']:.0f}; "
              f"target ≤ {PROFILE_TARGET}: {'met' if g <= PROFILE_TARGET else 'not met'}")
        return
    if sys.argv[1:] == ["--profile-only"]:
        L = profile()
        path = os.path.join(ROOT, "bench", "RESULTS.md")
        text = open(path).read()
        head, _, rest = text.partition("## Profile: instructions per request")
        tail = rest[rest.index("## The seed scenario"):] if rest else ""
        if not rest:  # first time: before the seed scenario
            head, _, tail = text.partition("## The seed scenario")
            tail = "## The seed scenario" + tail
        open(path, "w").write(head + "\n".join(L) + "\n\n" + tail)
        print("\n".join(L))
        return
    if sys.argv[1:] == ["--workers-only"]:  # measure the workers section, put it into RESULTS.md
        m = workers.measure()
        L = workers.section(m)
        L += ["Where it stands:\n"] + workers.standing(m) + [""]
        put_alone(L, "--workers-only", f"{RUNS} rounds", "## Workers: green threads on every core", "## MariaDB")
        print("\n".join(L))
        return
    if sys.argv[1:] == ["--preempt-only"]:  # measure preemption's fairness and cost, put it into RESULTS.md
        L = preempt_lines(preempt())
        put_alone(L, "--preempt-only", f"{RUNS} rounds", "## Preemption", before="## The stuck-thread server")
        print("\n".join(L))
        return
    if sys.argv[1:] == ["--stuck-only"]:  # measure the stuck-thread server, put it into RESULTS.md
        st, L = stuck()
        stand = stuck_standing(st)[0].rstrip("\n")
        put_alone(L, "--stuck-only", f"{RUNS} rounds", "## The stuck-thread server",
                  edit=lambda text: "\n".join(stand if ln.startswith("- **Stuck-thread server") else ln
                                              for ln in text.split("\n")))
        print("\n".join(L) + "\n" + stand)
        return
    if sys.argv[1:] == ["--seed-only"]:  # measure the seed scenario, put it into RESULTS.md
        sd, levels = seed()
        L = seed_lines(sd, levels)
        put_alone(L, "--seed-only", "3 rounds", "## The seed scenario")
        print("\n".join(L))
        return
    if sys.argv[1:] == ["--mariadb-only"]:  # measure MariaDB stock vs gpatch, put it into RESULTS.md
        md, L = mariadb()
        stand = [ln.rstrip("\n") for ln in mariadb_standing(md)]

        def edit(text):  # this run's standing lines replace the last full run's (same first 40 characters)
            new = {ln[:40]: ln for ln in stand}
            return "\n".join(new.get(ln[:40], ln) for ln in text.split("\n"))
        put_alone(L, "--mariadb-only", f"{len(md['figs']['gpatch']) if md else 0} rounds", "## MariaDB 10.11",
                  edit=edit if md else None)
        print("\n".join(L + stand))
        return
    if sys.argv[1:] == ["--peers-only"]:  # a short look at the peers; writes nothing
        pr = peers()
        print("\n".join(peers_section(pr) + peers_standing(pr)))
        return
    t0 = time.time()
    # the measurements are kept in build/bench/measured.pickle, so that a
    # failure while writing RESULTS.md can be fixed and the writing redone
    # from them (BENCH_RESUME=1) without measuring for half an hour again
    saved = os.path.join(B, "bench", "measured.pickle")
    if os.environ.get("BENCH_RESUME") == "1":
        import pickle
        (mi, mem, limits, nmem, mg, nmany, tl, sv, levels, pv, pr, sd, seed_levels, st, st_lines, wk, md, md_lines,
         lim, saved_commands) = pickle.load(open(saved, "rb"))
        commands[:] = saved_commands
    else:
        print("bench: micro", flush=True)
        mi = micro()
        print("bench: memory", flush=True)
        mem, limits, nmem = memory()
        print("bench: 100,000 blocked green threads", flush=True)
        mg, nmany = many()
        print("bench: own TLS against shared TLS", flush=True)
        tl = tls_modes()
        print("bench: servers", flush=True)
        sv, levels = servers()
        print("bench: worker-pool server", flush=True)
        pv = pool_server()
        print("bench: peers", flush=True)
        pr = peers()
        print("bench: seed scenario", flush=True)
        sd, seed_levels = seed()
        print("bench: stuck-thread server", flush=True)
        st, st_lines = stuck()
        print("bench: workers", flush=True)
        wk = workers.measure()
        print("bench: mariadb", flush=True)
        md, md_lines = mariadb()
        lim = read_limits()
        import pickle
        try:
            pickle.dump((mi, mem, limits, nmem, mg, nmany, tl, sv, levels, pv, pr, sd, seed_levels, st, st_lines, wk,
                         md, md_lines, lim, list(commands)), open(saved, "wb"))
        except Exception as ex:  # keeping them is a convenience, never a reason to lose the run
            print(f"bench: measurements not kept ({ex})", flush=True)

    L = []
    L.append("# gpatch benchmark results\n")
    L.append(f"Made by `make bench` on {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} UTC; "
             f"{RUNS} runs of each measurement (3 for memory and the seed scenario), alternating stock / gpatch / "
             f"native within each round; medians, with min–max in parentheses; ratios are medians of per-round ratios "
             f"where the rows were measured in the same round. Took {time.time() - t0:.0f} s.\n")
    L.append(f"Machine: {platform.node()} — {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
             f"Linux {platform.release()}, shared and noisy (numbers drift with other load; compare within a table). "
             f"Servers pinned to CPU 0, wrk to CPU 1.\n")
    L.append("## Micro\n")
    L.append("| measurement | ns | target |")
    L.append("|---|---|---|")
    L.append(f"| raw `jump_fcontext` round trip | {fmt_range(mi['raw'], '{:.2f}')} | |")
    L.append(f"| raw `jump_fcontext` round trip made inside a called function, no bookkeeping (`raw_fcontext N called`) "
             f"| {fmt_range(mi['raw_called'], '{:.2f}')} | |")
    L.append(f"| the same sched_yield ping-pong under bench/micro/floor_preload.so (a preloaded sched_yield that only "
             f"jumps) | {fmt_range(mi['floor'])} | |")
    L.append(f"| gthread yield round trip (sched_yield ping-pong under gpatch) | {fmt_range(mi['yield_gp'])} | ≤ 2× raw |")
    L.append(f"| OS threads, pipe ping-pong (stock) | {fmt_range(mi['pipe_stock'])} | |")
    L.append(f"| OS threads, mutex+condvar ping-pong (stock) | {fmt_range(mi['cond_stock'])} | |")
    L.append(f"| gthreads, pipe ping-pong (gpatch) | {fmt_range(mi['pipe_gp'])} | |")
    L.append(f"| gthreads, mutex+condvar ping-pong (gpatch) | {fmt_range(mi['cond_gp'])} | |")
    L.append(f"| pthread_create+join, stock | {fmt_range(mi['spawn_stock'])} | |")
    L.append(f"| pthread_create+join, gpatch | {fmt_range(mi['spawn_gp'])} | ≤ 1/10 of stock |")
    L.append("")
    ry = med(mi["ratio_yield_raw"])
    rp = med(mi["pipe_stock"]) / med(mi["yield_gp"])
    rc = med(mi["cond_stock"]) / med(mi["yield_gp"])
    rs = med(mi["ratio_spawn"])
    rcr = med(mi["ratio_called_raw"])
    L.append(f"- yield round trip / raw jump: **{ry:.2f}×** (target ≤ 2×: {'met' if ry <= 2 else 'not met'})")
    L.append(f"- the same raw jump made inside a called function: **{rcr:.2f}×** raw. A hooked call returns into a "
             f"different caller after every switch (most likely the return-stack predictor misses there), so this is the floor "
             f"of any switch made inside a libc call on this machine; the yield costs **{ry / rcr:.2f}×** that floor.")
    rf = med(mi["ratio_floor_raw"])
    L.append(f"- a preloaded sched_yield that does nothing but jump (floor_preload.so): **{rf:.2f}×** raw — the "
             f"least an interposed switch costs here; gpatch's "
             f"run queue, errno, h_errno and checks make the yield **{ry / rf:.2f}×** that.")
    L.append(f"- OS-thread pipe ping-pong / gthread yield: **{rp:.0f}×**; mutex+condvar: **{rc:.0f}×** "
             f"(target ≥ 20×: {'met' if min(rp, rc) >= 20 else 'not met'})")
    L.append(f"- stock spawn+join / gpatch spawn+join: **{rs:.1f}×** (target ≥ 10×: {'met' if rs >= 10 else 'not met'})\n")
    L.append(f"## Memory: RSS added per thread blocked in read(), {nmem} threads\n")
    L.append("| | RSS KiB per thread | OS threads | kernel KiB per thread (KernelStack + PageTables + unreclaimable slab) |")
    L.append("|---|---|---|---|")
    L.append(f"| stock | {fmt_range(mem['stock'], '{:.2f}')} | {max(mem['threads_stock'])} | {fmt_range(mem['kern_stock'], '{:.1f}')} |")
    L.append(f"| gpatch | {fmt_range(mem['gpatch'], '{:.2f}')} | {max(mem['threads_gp'])} | {fmt_range(mem['kern_gp'], '{:.1f}')} |")
    rm = med(mem["gpatch"]) / med(mem["stock"])
    L.append(f"\ngpatch / stock: **{rm:.2f}** (target ≤ 0.25: {'met' if rm <= 0.25 else 'not met'}).\n")
    L.append("Most threads one process can hold blocked in read() (cap given on the command line):\n")
    L.append(f"- stock: {limits['stock']}")
    L.append(f"- gpatch: {limits['gpatch']}")
    L.append("- limits on this machine: " + ", ".join(f"{k}={v}" for k, v in lim.items()) +
             ". A gthread's stack is a slot of an arena (many per mapping), so vm.max_map_count no longer bounds gpatch "
             "(it stopped at 32,747 when each stack and its guard page were maps of their own); "
             "stock threads are bounded by threads-max, pid_max and RLIMIT_NPROC.\n")
    L += many_lines(mg, nmany, lim)
    L += tls_lines(tl)
    L.append("## Servers: thread-per-connection keep-alive HTTP/1.1, wrk\n")
    L.append(f"`wrk -t1 -cN -d{DUR}s --latency`; the same stock-built binary stock and under gpatch; `native` is "
             "bench/native/uv_http.c on libuv.\n")
    L.append("| conns | server | req/s | p50 ms | p99 ms | peak RSS MiB | peak OS threads | wrk's CPU | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    dat = []
    for c in levels:
        for name in ("stock", "gpatch", "native"):
            r = sv[(c, name)]
            errs = "; ".join(sorted(set(r["errs"])))[:80]
            L.append(f"| {c} | {name} | {fmt_range(r['rps'], '{:.0f}')} | {med(r['p50']):.2f} | {med(r['p99']):.2f} | "
                     f"{med(r['rss']):.1f} | {max(r['thr'])} | {med([x[0] for x in r['wrk_cpu']]) * 100:.0f} % | {errs} |")
        dat.append((c, med(sv[(c, 'stock')]['rps']), med(sv[(c, 'gpatch')]['rps']), med(sv[(c, 'native')]['rps'])))
    L.append("")
    def ratio(a, b):  # median of per-round ratios; a server that failed every round is beaten without bound
        return med([x / y for x, y in zip(a, b) if y]) if any(b) else float("inf")
    server_ratios = {}
    for c in levels:
        g, n, s = (sv[(c, k)]["rps"] for k in ("gpatch", "native", "stock"))
        cpu = sv[(c, "gpatch")]["wrk_cpu"]
        server_ratios[c] = (ratio(g, n), ratio(g, s), ratio(n, s), med([x[0] for x in cpu]), med([x[1] for x in cpu]))
        L.append(f"- {c} connections: gpatch / native **{server_ratios[c][0]:.2f}**, "
                 f"gpatch / stock **{server_ratios[c][1]:.2f}**")
    L.append("\nTargets: ≥ 0.90 of native at 50 and 1,000; ≥ stock at 50; ≥ 2× stock (or stock fails) at 10,000.\n")
    L.append("![requests/s against connections](rps.png)\n")
    pl, pool_ratios, pool_st = pool_lines(pv)
    L += pl
    L += peers_section(pr)
    L += profile()
    L.append("")
    L += seed_lines(sd, seed_levels)
    L += st_lines
    L += preempt_lines(preempt())
    L += workers.section(wk)
    L += md_lines
    L += standing(mi, mem, server_ratios, mg, nmany)
    L += pool_standing(pool_ratios, pool_st)
    L += stuck_standing(st)
    L += workers.standing(wk)
    L += mariadb_standing(md)
    L += tls_standing(tl)
    L += peers_standing(pr) + [""]
    L.append("## Commands\n")
    L.append("Each distinct command line (ports vary per run):\n")
    L.append("```")
    seen = set()
    for c in commands:
        k = re.sub(r"\b\d{4,5}\b", "PORT", c) if "loadgen" in c or "127.0.0.1" in c else c
        if k not in seen:
            seen.add(k)
            L.append(k.replace(ROOT + "/", ""))
    L.append("```")
    open(os.path.join(ROOT, "bench", "RESULTS.md"), "w").write("\n".join(L) + "\n")
    with open(os.path.join(ROOT, "bench", "results.dat"), "w") as f:
        f.write("# conns stock gpatch native (requests/s, medians)\n")
        for row in dat:
            f.write(" ".join(str(x) for x in row) + "\n")
    peers_dat(pr)
    subprocess.run(["gnuplot", os.path.join(ROOT, "bench", "rps.gp")], cwd=os.path.join(ROOT, "bench"))
    print("\n".join(L[:60]))


if __name__ == "__main__":
    main()
