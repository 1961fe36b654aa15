#!/usr/bin/python3
"""`make test-python`: CPython 3.11's own test suite (Debian's
libpython3.11-testsuite), run stock and under gpatch, one module at a time,
with the results side by side and every test that passes stock but not under
gpatch named. Writes tests/python/RESULTS.md too.

Usage: run.py [MODULE...]   (default: the list from the issue)
"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "build", "libgpatch.so")
MODULES = sys.argv[1:] or ["test_threading", "test_thread", "test_socket", "test_select", "test_selectors",
                           "test_time", "test_socketserver", "test_httpservers", "test_queue",
                           "test_concurrent_futures", "test_subprocess", "test_asyncio.test_events"]
TIMEOUT = int(os.environ.get("PYTEST_MODULE_TIMEOUT", "900"))


def run(module, preload):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = LIB
    t0 = time.time()
    try:
        # AF_VSOCK tests hang stock on a VM whose vsock has no peer: left out, and said so
        # test_socketserver only runs with the "network" resource (it stays on localhost)
        extra = ["-u", "network"] if module == "test_socketserver" else []
        p = subprocess.run(["/usr/bin/python3", "-m", "test", "-v", "--timeout", "600", "-i", "*VSOCK*"] + extra +
                           [module], env=env,
                           capture_output=True, text=True, timeout=TIMEOUT)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc = "timeout"
    results = {}
    pending = None  # a test whose verdict comes after some output of its own
    verdict = re.compile(r"(?:^|\s)(ok|FAIL|ERROR|skipped|expected failure)(?: .*)?$")
    for line in out.splitlines():
        m = re.match(r"^(\w+) \(([\w.]+)\)(?: \.\.\. (.*))?$", line)
        if m:
            pending = m.group(2)
            line = m.group(3) or ""
        if pending:
            v = verdict.search(line)
            if v:
                results[pending] = v.group(1).split()[0]
                pending = None
    ran = re.search(r"^Ran (\d+) tests?", out, re.M)
    return {"rc": rc, "secs": time.time() - t0, "ran": int(ran.group(1)) if ran else 0, "results": results,
            "tail": out[-3000:]}


def count(res, what):
    return sum(1 for v in res["results"].values() if v == what)


REPEATS = int(os.environ.get("PYTEST_REPEATS", "1"))


def main():
    """Each module stock once, then REPEATS times under gpatch (PYTEST_REPEATS,
    default 1): the table gives every gpatch run, and a test that passes stock
    but not under gpatch is listed with the number of runs it failed in."""
    rows, regress, unstable = [], [], []
    for mod in MODULES:
        s = run(mod, False)
        gs = [run(mod, True) for _ in range(REPEATS)]
        rows.append((mod, s, gs))
        for name, v in s["results"].items():
            bad = [g["results"].get(name, "did not run (hang or crash)") for g in gs if g["results"].get(name) != "ok"]
            if v == "ok" and bad:
                regress.append((mod, name, bad[0], len(bad)))
        if any(g["results"] != gs[0]["results"] for g in gs[1:]):
            unstable.append(mod)
        print(f"{mod:28} stock: ran {s['ran']:4} ok {count(s, 'ok'):4} fail {count(s, 'FAIL') + count(s, 'ERROR'):3} "
              f"({s['secs']:.0f}s, rc {s['rc']})   gpatch x{REPEATS}: ok " + ", ".join(str(count(g, 'ok')) for g in gs) +
              " rc " + ", ".join(str(g['rc']) for g in gs), flush=True)
    L = ["# CPython's test suite, stock and under gpatch", "",
         f"`make test-python` on {time.strftime('%Y-%m-%d %H:%M')} — /usr/bin/python3 "
         f"({subprocess.run(['/usr/bin/python3', '-V'], capture_output=True, text=True).stdout.strip()}), "
         "`python3 -m test -v --timeout 600 -i '*VSOCK*' MODULE`, each module stock once, then "
         f"{REPEATS} time(s) with LD_PRELOAD=build/libgpatch.so (PYTEST_REPEATS={REPEATS}; the AF_VSOCK tests hang stock "
         "on a VM whose vsock has no peer; test_socketserver with `-u network`, which it needs to run at all, on "
         "localhost). Machine: 2 cores.", "",
         "| module | stock: ran / ok / failed | gpatch, each run: ran / ok / failed | stock s | gpatch s (each run) |",
         "|---|---|---|---|---|"]
    for mod, s, gs in rows:
        L.append(f"| {mod} | {s['ran']} / {count(s, 'ok')} / {count(s, 'FAIL') + count(s, 'ERROR')} | " +
                 "; ".join(f"{g['ran']} / {count(g, 'ok')} / {count(g, 'FAIL') + count(g, 'ERROR')}" for g in gs) +
                 f" | {s['secs']:.0f} | " + ", ".join(f"{g['secs']:.0f}" for g in gs) + " |")
    L += ["", "## The same verdicts in every gpatch run", ""]
    L += [f"Every test got the same verdict in all {REPEATS} gpatch runs of every module." if not unstable else
          "Verdicts differed between gpatch runs in: " + ", ".join(unstable) + "."]
    L += ["", "## Passing stock, not under gpatch", ""]
    L += [f"- {mod}: `{name}` — {what} (in {n} of {REPEATS} runs)" for mod, name, what, n in regress] or ["None."]
    open(os.path.join(ROOT, "tests", "python", "RESULTS.md"), "w").write("\n".join(L) + "\n")
    print("\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())
