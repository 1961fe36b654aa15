"""bench/workers.py — `make bench`'s section on gpatch's workers (GPATCH_WORKERS):
a thread-per-connection server whose handler computes (hashes 64 KiB per
request), stock against gpatch with one and two workers; and the plain
keep-alive server, not pinned, with one and two workers. Servers run on any
core, wrk is pinned to CPU 1: on this 2-core machine the load generator takes
a share of one of the cores every server has."""
from common import B, DUR, QUICK, RUNS, Server, fmt_range, med, wrk

KIB = 64
VARIANTS = {  # name -> (mode, extra environment)
    "stock": ("stock", {}),
    "gpatch, 1 worker": ("gpatch", {"GPATCH_WORKERS": "1"}),
    "gpatch, 2 workers": ("gpatch", {"GPATCH_WORKERS": "2"}),
}


def cpu_s(pid):
    """user + system seconds of a process so far (its threads included)"""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / 100.0
    except (OSError, IndexError, ValueError):
        return float("nan")


def one(name, argv, conns, res):
    mode, extra = VARIANTS[name]
    s = Server(mode, argv, cpus=None, extra=extra)
    try:
        c0 = cpu_s(s.p.pid)
        rps, p50, p99, errs, _ = wrk(s.port, conns)
        cores = (cpu_s(s.p.pid) - c0) / DUR
    except Exception as e:  # a failed run is a result too, and said
        rps, p50, p99, errs, cores = 0.0, float("nan"), float("nan"), f"wrk failed: {e}", float("nan")
        print(f"bench: workers, {name}: {errs}", flush=True)
    s.stop()
    r = res.setdefault(name, {"rps": [], "p99": [], "cores": [], "errs": []})
    r["rps"].append(rps)
    r["p99"].append(p99)
    r["cores"].append(cores)
    if errs:
        r["errs"].append(errs)


def measure():
    """{"cpu": {conns: {name: {...}}}, "io": {conns: {...}}}; every round runs each variant once, alternating"""
    out = {"cpu": {}, "io": {}}
    for kind, argv, levels in (("cpu", [B + "/bench/http_keepalive", "0", str(KIB)], [50]),
                               ("io", [B + "/bench/http_keepalive", "0"], [50] if QUICK else [50, 1000])):
        for conns in levels:
            res = out[kind].setdefault(conns, {})
            for _ in range(RUNS):
                for name in VARIANTS:
                    if kind == "io" and name == "stock":
                        continue  # the stock rows of the plain server are in the tables above
                    one(name, argv, conns, res)
    return out


def ratio(res, a, b):
    """median of per-round ratios a/b (rounds where both answered)"""
    xs = [x / y for x, y in zip(res[a]["rps"], res[b]["rps"]) if x > 0 and y > 0]
    return med(xs) if xs else float("nan")


def section(m):
    L = ["## Workers: green threads on every core\n",
         f"`GPATCH_WORKERS=N` runs green threads on N worker OS threads; the default is one (these rows, and "
         f"MariaDB's, are why: see the README). Servers here run on any core (not pinned); wrk is pinned to CPU 1, so on this "
         f"2-core machine the load generator takes part of one of the two cores every server has (the 'cores' column "
         f"is the server's own CPU time per second).\n",
         f"### A handler that computes: {KIB} KiB hashed per request (FNV-1a, a byte at a time)\n",
         "| server | connections | requests/s | p99 ms | cores used | vs 1 worker | vs stock |",
         "|---|---|---|---|---|---|---|"]
    L += rows(m["cpu"], vs_stock=True)
    L += ["", "### The plain keep-alive server (no computing), not pinned\n",
          "| server | connections | requests/s | p99 ms | cores used | vs 1 worker |", "|---|---|---|---|---|---|"]
    L += rows(m["io"], vs_stock=False)
    L.append("")
    return L


def rows(table, vs_stock):
    """one table's rows: every variant measured, by connection count"""
    L = []
    for conns, res in sorted(table.items()):
        for name in VARIANTS:
            if name not in res:
                continue
            r = res[name]
            L.append(f"| {name} | {conns} | {fmt_range(r['rps'], '{:.0f}')} | {fmt_range(r['p99'], '{:.2f}')} | "
                     f"{fmt_range(r['cores'], '{:.2f}')} | {ratio(res, name, 'gpatch, 1 worker'):.2f}× |"
                     + (f" {ratio(res, name, 'stock'):.2f}× |" if vs_stock else ""))
    return L


def standing(m):
    res = m["cpu"].get(50)
    if not res or "gpatch, 2 workers" not in res:
        return ["- Workers: not measured (the runs failed)."]
    a, b = ratio(res, "gpatch, 2 workers", "gpatch, 1 worker"), ratio(res, "gpatch, 2 workers", "stock")
    L = [f"- **Workers, a handler that computes: 2 workers {a:.2f}× one worker (target ≥ 1.8: "
         f"{'met' if a >= 1.8 else 'not met'}), {b:.2f}× stock (target ≥ 0.95: {'met' if b >= 0.95 else 'not met'}).** "
         f"The ceiling here is the CPU wrk leaves: two workers get "
         f"{med(res['gpatch, 2 workers']['cores']):.2f} cores, one worker {med(res['gpatch, 1 worker']['cores']):.2f}."]
    for conns, r in sorted(m["io"].items()):
        if "gpatch, 2 workers" in r:
            x = ratio(r, "gpatch, 2 workers", "gpatch, 1 worker")
            L.append(f"- Plain keep-alive, {conns} connections, not pinned: 2 workers {x:.2f}× one worker "
                     f"({'within' if x >= 0.95 else 'more than'} 5 % of it).")
    return L


if __name__ == "__main__":  # a quick look: prints, writes nothing
    m = measure()
    print("\n".join(section(m) + standing(m)))
