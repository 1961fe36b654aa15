#!/usr/bin/python3
"""`make test-posix`: the Open POSIX Test Suite's conformance tests of the
thread interfaces (Debian's `posixtestsuite` source package), each built
stock, run stock and then under build/libgpatch.so. Stock's exit status is the
specification: a test "differs" when it passes stock (PTS_PASS) and not under
gpatch (another status, a hang past the timeout, a signal).

Writes docs/posix.md (full run, default configuration) or
build/posix/report-<config>.md (a filtered run or another configuration), and
build/posix/results-<config>.json. Exits 1 when a test differs that is not in
tests/posix/known.txt (each entry with its reason), so it can gate CI.

Environment:
  POSIX_WORKERS   GPATCH_WORKERS for the gpatch runs (default: gpatch's own)
  POSIX_TLS       GPATCH_TLS for the gpatch runs (default: gpatch's own)
  POSIX_FILTER    comma-separated substrings or globs of test names
                  (e.g. "pthread_cond_*,sem_wait/1-1")
  POSIX_SKIP_KNOWN=1  leave out the tests tests/posix/known.txt lists (CI's
                  quick run: their hangs would cost their timeout each)
  POSIX_TIMEOUT   seconds per run (default 30); the whole process group is
                  killed when it runs out
  POSIX_JOBS      parallel compilations (default 2)
  POSIX_REUSE_STOCK=1  take stock's verdicts from the last results-*.json
                  instead of running stock again (stock is the same binary)
  POSIX_SUITE     codename of the Debian release to take the source from
                  (default: this machine's VERSION_CODENAME, else bookworm)
"""
import concurrent.futures
import fnmatch
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
CACHE = os.path.join(BUILD, "posix-cache")
OUT = os.path.join(BUILD, "posix")
BUILD_LIB = os.path.join(BUILD, "libgpatch.so")
LIB = os.path.join(OUT, "libgpatch.so")
KNOWN = os.path.join(ROOT, "tests", "posix", "known.txt")
DOC = os.path.join(ROOT, "docs", "posix.md")

FAMILIES = ["pthread_*", "sem_*", "nanosleep", "clock_nanosleep", "sched_yield", "sigsuspend", "sigwait*"]
# include/posixtest.h
STATUS = {0: "PASS", 1: "FAIL", 2: "UNRESOLVED", 4: "UNSUPPORTED", 5: "UNTESTED"}
TIMEOUT = float(os.environ.get("POSIX_TIMEOUT", "30"))
JOBS = int(os.environ.get("POSIX_JOBS", "2"))
WORKERS = os.environ.get("POSIX_WORKERS", "")
TLS = os.environ.get("POSIX_TLS", "")
FILTER = [f for f in os.environ.get("POSIX_FILTER", "").split(",") if f]
SKIP_KNOWN = os.environ.get("POSIX_SKIP_KNOWN") == "1"


def log(*a):
    print(*a, flush=True)


# ---- the source: apt-get source with a private deb-src list (the system's apt config is not touched)
def suite_codename():
    if os.environ.get("POSIX_SUITE"):
        return os.environ["POSIX_SUITE"]
    try:
        with open("/etc/os-release") as f:
            m = re.search(r"^VERSION_CODENAME=\"?(\w+)", f.read(), re.M)
            if m:
                return m.group(1)
    except OSError:
        pass
    return "bookworm"


def source_dir():
    dirs = sorted(d for d in glob.glob(os.path.join(CACHE, "posixtestsuite-*"))
                  if os.path.isdir(os.path.join(d, "conformance", "interfaces")))
    return dirs[-1] if dirs else None


def fetch():
    src = source_dir()
    if src:
        return src
    os.makedirs(os.path.join(CACHE, "lists", "partial"), exist_ok=True)
    os.makedirs(os.path.join(CACHE, "apt-cache", "archives", "partial"), exist_ok=True)
    srclist = os.path.join(CACHE, "src.list")
    with open(srclist, "w") as f:
        f.write("deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                f"http://deb.debian.org/debian {suite_codename()} main\n")
    opts = ["-o", "Dir::Etc::SourceList=" + srclist, "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", "Dir::State::Lists=" + os.path.join(CACHE, "lists"),
            "-o", "Dir::Cache=" + os.path.join(CACHE, "apt-cache")]
    if os.getuid() == 0:  # the download goes to build/, which apt's _apt user may not write to
        opts += ["-o", "APT::Sandbox::User=root"]
    log("posix: fetching Debian's posixtestsuite source into", CACHE)
    subprocess.run(["apt-get", "-qq"] + opts + ["update"], check=True)
    subprocess.run(["apt-get", "-qq"] + opts + ["source", "posixtestsuite"], cwd=CACHE, check=True)
    src = source_dir()
    if not src:
        sys.exit("posix: apt-get source posixtestsuite left no posixtestsuite-*/conformance/interfaces")
    return src


# ---- the tests
def wanted(name):
    if SKIP_KNOWN and name in load_known():
        return False
    if not FILTER:
        return True
    return any(fnmatch.fnmatch(name, f) if any(c in f for c in "*?[") else f in name for f in FILTER)


def find_tests(src):
    """(name, source) for each numbered test program of the families; the
    skipped ones with their reason."""
    base = os.path.join(src, "conformance", "interfaces")
    tests, skipped = [], []
    for d in sorted(os.listdir(base)):
        if not any(fnmatch.fnmatch(d, f) for f in FAMILIES):
            continue
        for fn in sorted(os.listdir(os.path.join(base, d))):
            name = d + "/" + fn.rsplit(".", 1)[0]
            # the suite's own rule (locate-test): [0-9]*-*.c are programs, [0-9]*-[0-9]*.sh scripts
            if re.match(r"^[0-9].*-.*\.c$", fn):
                if "buildonly" in fn:
                    skipped.append((name, "build-only test (the suite does not run it)"))
                elif wanted(name):
                    tests.append((name, os.path.join(base, d, fn)))
            elif fn.endswith(".sh") and re.match(r"^[0-9]", fn) and wanted(name):
                skipped.append((name, "shell script: each only echoes that the assertion is tested "
                                      "elsewhere or untested; no program to preload"))
    return tests, skipped


def build_one(name, srcpath, src):
    exe = os.path.join(OUT, "bin", name)
    if os.path.exists(exe) and os.path.getmtime(exe) >= os.path.getmtime(srcpath):
        return name, True, ""
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    # the suite's Makefile and LDFLAGS file: CFLAGS -g -O2 -Wall -Werror
    # -D_POSIX_C_SOURCE=200112L -std=gnu99 -Iinclude, then -D_GNU_SOURCE -lpthread -lrt.
    # -Werror is left out: gcc 12 warns where the 2005 suite's gcc did not.
    cmd = ["gcc", "-g", "-O2", "-w", "-D_POSIX_C_SOURCE=200112L", "-std=gnu99",
           "-I" + os.path.join(src, "include"), srcpath, "-o", exe + ".tmp",
           "-D_GNU_SOURCE", "-lpthread", "-lrt"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        if "undefined reference to `main'" in p.stderr:
            # the suite's own rule: an object without main is a compile-only test
            return name, False, "NOMAIN"
        return name, False, p.stderr[-2000:]
    os.replace(exe + ".tmp", exe)
    return name, True, ""


# ---- running one
def run_one(name, preload):
    exe = os.path.join(OUT, "bin", name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPATCH_") and k != "LD_PRELOAD"}
    if preload:
        env["LD_PRELOAD"] = LIB
        if WORKERS:
            env["GPATCH_WORKERS"] = WORKERS
        if TLS:
            env["GPATCH_TLS"] = TLS
    # each run in a scratch directory of its own (some tests make files in the cwd)
    cwd = os.path.join(OUT, "scratch")
    os.makedirs(cwd, exist_ok=True)
    logf = os.path.join(OUT, "logs", name.replace("/", "_") + (".gpatch" if preload else ".stock") + ".log")
    os.makedirs(os.path.dirname(logf), exist_ok=True)
    t0 = time.time()
    with open(logf, "wb") as f:
        p = subprocess.Popen([exe], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = p.wait(timeout=TIMEOUT)
            outcome = STATUS.get(rc, f"exit {rc}") if rc >= 0 else f"signal {signal.Signals(-rc).name}"
        except subprocess.TimeoutExpired:
            outcome = f"hang (>{TIMEOUT:g}s)"
        # the whole process group: a test's forked children, or a hung test
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    return outcome, round(time.time() - t0, 2)


def load_known():
    known = {}
    if os.path.exists(KNOWN):
        with open(KNOWN) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, _, reason = line.partition(" ")
                known[name] = reason.strip()
    return known


def config_name():
    parts = []
    if WORKERS:
        parts.append("workers" + WORKERS)
    if TLS:
        parts.append("tls-" + TLS)
    return "-".join(parts) or "default"


def report_only(path):
    """POSIX_REPORT_ONLY=results.json: the report again from a run's results
    and the current tests/posix/known.txt (after triage), nothing run."""
    with open(path) as f:
        r = json.load(f)
    src = source_dir() or "posixtestsuite"
    results, known = r["tests"], load_known()
    differ = sorted(n for n, x in results.items() if x["stock"] == "PASS" and x["gpatch"] != "PASS")
    new = [n for n in differ if n not in known]
    totals = dict(r["totals"], differ=len(differ), new=len(new))
    cfg = r["config"]
    report = DOC if (not r["filter"] and cfg == "default") else os.path.join(OUT, f"report-{cfg}.md")
    write_report(report, cfg, src, totals, results, differ, known, [tuple(x) for x in r["skipped"]],
                 [(n, ["(see the run's log)"]) for n in r["build_failed"]], note=r.get("note", ""))
    log(f"posix [{cfg}]: differ {len(differ)} ({len(new)} not in tests/posix/known.txt); report: "
        f"{os.path.relpath(report, ROOT)}")
    return 1 if new else 0


def main():
    if os.environ.get("POSIX_REPORT_ONLY"):
        return report_only(os.environ["POSIX_REPORT_ONLY"])
    src = fetch()
    if not os.path.exists(BUILD_LIB):
        sys.exit("posix: build/libgpatch.so is missing (make all)")
    # the library under test is a copy taken now: a rebuild during a long run does not mix two
    os.makedirs(OUT, exist_ok=True)
    shutil.copy2(BUILD_LIB, LIB + ".tmp")
    os.replace(LIB + ".tmp", LIB)
    tests, skipped = find_tests(src)
    log(f"posix: {len(tests)} test programs from {os.path.relpath(src, ROOT)}; building (-j{JOBS})")
    built, failed_build = [], []
    with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
        for name, ok, err in ex.map(lambda t: build_one(t[0], t[1], src), tests):
            (built if ok else failed_build).append(name if ok else (name, err.strip().splitlines()[-1:] or [""]))
    built.sort()
    for name, err in list(failed_build):
        if err == ["NOMAIN"]:
            failed_build.remove((name, err))
            skipped.append((name, "no main(): a compile-only test (the suite links only objects with main)"))
        else:
            log(f"posix: {name} does not build: {err[0]}")

    cfg = config_name()
    stock_cache = {}
    if os.environ.get("POSIX_REUSE_STOCK") == "1":
        for path in glob.glob(os.path.join(OUT, "results-*.json")):
            with open(path) as f:
                for name, r in json.load(f)["tests"].items():
                    stock_cache.setdefault(name, r["stock"])
    known = load_known()
    results = {}
    t_start = time.time()
    for i, name in enumerate(built, 1):
        if name in stock_cache:
            stock, st = stock_cache[name], None
        else:
            stock, st = run_one(name, False)
        gp, gt = run_one(name, True)
        results[name] = {"stock": stock, "gpatch": gp, "stock_s": st, "gpatch_s": gt}
        if stock == "PASS" and gp != "PASS":
            tag = "known" if name in known else "NEW"
            log(f"[{i}/{len(built)}] {name}: stock PASS, gpatch {gp} ({tag})")
        elif i % 50 == 0:
            log(f"[{i}/{len(built)}] ... {time.time() - t_start:.0f}s")

    differ = sorted(n for n, r in results.items() if r["stock"] == "PASS" and r["gpatch"] != "PASS")
    new = [n for n in differ if n not in known]
    fixed = sorted(n for n in known if n in results and results[n]["stock"] == "PASS" and results[n]["gpatch"] == "PASS")
    totals = {"programs": len(tests), "built": len(built), "skipped": len(skipped),
              "pass_stock": sum(1 for r in results.values() if r["stock"] == "PASS"),
              "pass_gpatch": sum(1 for r in results.values() if r["gpatch"] == "PASS"),
              "differ": len(differ), "new": len(new), "secs": round(time.time() - t_start)}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"results-{cfg}.json"), "w") as f:
        json.dump({"config": cfg, "filter": FILTER, "timeout": TIMEOUT, "totals": totals, "tests": results,
                   "skipped": skipped, "build_failed": [n for n, _ in failed_build]}, f, indent=1, sort_keys=True)
    report = DOC if (not FILTER and cfg == "default") else os.path.join(OUT, f"report-{cfg}.md")
    write_report(report, cfg, src, totals, results, differ, known, skipped, failed_build)
    log(f"posix [{cfg}]: built {totals['built']}, pass stock {totals['pass_stock']}, "
        f"pass gpatch {totals['pass_gpatch']}, differ {totals['differ']} "
        f"({len(new)} not in tests/posix/known.txt); report: {os.path.relpath(report, ROOT)}")
    for n in fixed:
        log(f"posix: {n} is in tests/posix/known.txt but passes now: take it out")
    for n in new:
        log(f"posix: NEW DIFFERENCE {n}: stock PASS, gpatch {results[n]['gpatch']} "
            f"(log: build/posix/logs/{n.replace('/', '_')}.gpatch.log)")
    return 1 if new else 0


HEADER = """# gpatch and the Open POSIX Test Suite

Generated by `tests/posix/run.py` (`make test-posix`); the causes come from
`tests/posix/known.txt`. Do not edit the generated sections by hand.

## How to run

    make test-posix                              # all, gpatch's defaults: writes this file
    POSIX_WORKERS=2 make test-posix              # GPATCH_WORKERS=2 (report in build/posix/)
    POSIX_TLS=own make test-posix                # GPATCH_TLS=own
    POSIX_FILTER='pthread_cond_*,sem_wait/1-1' make test-posix
    POSIX_TIMEOUT=20 POSIX_REUSE_STOCK=1 make test-posix

`make test-posix` gets Debian's `posixtestsuite` source package (1.5.2) with
`apt-get source`, through a private deb-src list and lists directory in
`build/posix-cache/` (the system's apt configuration is not touched; a second
run does not download), builds the numbered conformance tests of `pthread_*`,
`sem_*`, `nanosleep`, `clock_nanosleep`, `sched_yield`, `sigsuspend` and
`sigwait*` as the suite does (`-D_POSIX_C_SOURCE=200112L -std=gnu99 -Iinclude
... -D_GNU_SOURCE -lpthread -lrt`, without its `-Werror`), and runs each one
stock and then under `LD_PRELOAD=build/libgpatch.so`, one at a time, with a
timeout that kills the whole process group. Stock's exit status is the
specification (`include/posixtest.h`: PASS 0, FAIL 1, UNRESOLVED 2,
UNSUPPORTED 4, UNTESTED 5): a test differs when it passes stock and does not
under gpatch. The run exits 1 when a test differs that `tests/posix/known.txt`
does not list with a reason. `POSIX_REPORT_ONLY=build/posix/results-X.json`
writes the report again from a run's results with the current known.txt.

Note: gpatch's default TLS mode depends on the CPU: shared TLS where it has
no FSGSBASE (`wrfsbase`) and no loaded module has thread-local variables,
own TLS otherwise. With shared TLS there is no hand-off, so a green thread
that computes keeps its worker (the [preempt] class below); run with
`POSIX_TLS=own` to see the other mode.

## Creating threads until pthread_create fails

Not among the tests that pass stock here (pthread_cond_broadcast/1-2 creates
threads until pthread_create fails and runs past the timeout stock too), so
measured on its own (a program that creates detached threads that each wait
on a condition variable, until pthread_create fails; 2-core VM, 24 GB, as
root, pid_max 32768, threads-max 192735):

| | threads created | then | time | max RSS |
|---|---|---|---|---|
| stock | 32,418 | EAGAIN (pid_max) | 7.0 s | 263 MiB |
| gpatch before its limit (defaults, shared TLS) | 100,000 (stopped there) | no failure yet | 9.6 s | 452 MiB |

A green thread costs about 4.5 KiB resident (an 8 MiB stack reserved, a few
pages touched), with overcommit, so without a limit such a program went on
toward the OOM killer instead of EAGAIN. gpatch now fails pthread_create
with EAGAIN, as stock, when its live green threads (main included) reach
RLIMIT_NPROC where that is finite and the kernel applies it (not to root);
else one thread per 16 KiB of the memory available at the first thread
(MemAvailable, or the cgroup's memory.max if lower: about 1.5 million on
24 GB). pid_max and threads-max exist for kernel tasks, which green threads
are not. (differential::thread_limit_is_eagain_at_rlimit_nproc: as nobody
with a limit of 300, stock and gpatch both fail after 299 threads.)
"""


def write_report(path, cfg, src, totals, results, differ, known, skipped, failed_build, note=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    L = [HEADER]
    L.append(f"## Results ({cfg}, {os.path.basename(src)}, timeout {TIMEOUT:g} s, "
             f"{time.strftime('%Y-%m-%d')})\n")
    if note:
        L.append(note + "\n")
    L.append("| programs | built | pass stock | pass gpatch | differ | not in known.txt | seconds |")
    L.append("|---|---|---|---|---|---|---|")
    L.append(f"| {totals['programs']} | {totals['built']} | {totals['pass_stock']} | {totals['pass_gpatch']} | "
             f"{totals['differ']} | {totals['new']} | {totals['secs']} |\n")
    others = []
    for p in sorted(glob.glob(os.path.join(OUT, "results-*.json"))):
        with open(p) as f:
            r = json.load(f)
        if r["config"] != cfg:
            others.append(r)
    if others:
        L.append("Other configurations (their last runs, from build/posix/results-*.json):\n")
        L.append("| configuration | filter | built | pass stock | pass gpatch | differ | tests that differ |")
        L.append("|---|---|---|---|---|---|---|")
        for r in others:
            t = r["totals"]
            names = sorted(n for n, x in r["tests"].items() if x["stock"] == "PASS" and x["gpatch"] != "PASS")
            filt = "all" if not r["filter"] else ",".join(r["filter"]) if len(r["filter"]) <= 3 else \
                f"{len(r['filter'])} named tests"
            L.append(f"| {r['config']} | {filt} | {t['built']} | {t['pass_stock']} | "
                     f"{t['pass_gpatch']} | {t['differ']} | {', '.join(names) or '-'} |")
        L.append("")
    L.append("## Tests that pass stock and not under gpatch\n")
    if differ:
        L.append("| test | gpatch | cause |")
        L.append("|---|---|---|")
        for n in differ:
            L.append(f"| {n} | {results[n]['gpatch']} | {known.get(n, '**not triaged** (not in known.txt)')} |")
    else:
        L.append("None.")
    L.append("")
    stock_not_pass = sorted((n, r["stock"]) for n, r in results.items() if r["stock"] != "PASS")
    L.append(f"## Not passing stock ({len(stock_not_pass)}; not a specification, listed for the record)\n")
    L.append(", ".join(f"{n} ({s})" for n, s in stock_not_pass) or "None.")
    L.append("")
    L.append(f"## Skipped ({len(skipped) + len(failed_build)})\n")
    for n, why in skipped:
        L.append(f"- {n}: {why}")
    for n, err in failed_build:
        L.append(f"- {n}: does not build: `{err[0]}`")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())
