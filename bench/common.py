"""bench/common.py — what every section of `make bench` shares: where things
are, how a measurement is repeated, the list of commands run (for
RESULTS.md), a server under test (Server) and the load generator (wrk)."""
import os
import re
import resource
import signal
import statistics
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(ROOT, "build")
LIB = os.path.join(B, "libgpatch.so")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DUR = int(os.environ.get("BENCH_SECONDS", "4"))
QUICK = os.environ.get("BENCH_QUICK") == "1"

commands = []  # every command we ran, for RESULTS.md


def env_for(mode):
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    if mode == "gpatch":
        e["LD_PRELOAD"] = LIB
    if mode == "floor":  # the instrument of bench/micro/floor_preload.c
        e["LD_PRELOAD"] = os.path.join(B, "bench", "floor_preload.so")
    return e


def run(cmd, mode="stock", timeout=300):
    pre = {"gpatch": "LD_PRELOAD=build/libgpatch.so ", "floor": "LD_PRELOAD=build/bench/floor_preload.so "}
    commands.append(pre.get(mode, "") + " ".join(cmd))
    out = subprocess.run(cmd, env=env_for(mode), capture_output=True, text=True, timeout=timeout)
    return out.stdout.strip()


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_range(xs, f="{:.1f}"):
    if not xs:
        return "n/a"
    return (f + " ({}–{})").format(med(xs), f.format(min(xs)), f.format(max(xs)))


# ---- a server under test, and wrk -------------------------------------------------------------------
class Server:
    def __init__(self, mode, argv, cpus="0", extra=None):  # cpus None: not pinned; extra: more environment
        self.mode = mode
        cmd = (["taskset", "-c", cpus] if cpus else []) + argv
        pre = "".join(f"{k}={v} " for k, v in (extra or {}).items())
        commands.append(pre + ("LD_PRELOAD=build/libgpatch.so " if mode == "gpatch" else "") + " ".join(cmd))
        env = env_for(mode)
        env.update(extra or {})
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        self.port = int(line.split()[1])
        self.peak_threads = 0
        self.stop_flag = False
        self.t = threading.Thread(target=self.sample, daemon=True)
        self.t.start()

    def status(self, field):
        try:
            for line in open(f"/proc/{self.p.pid}/status"):
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def sample(self):
        while not self.stop_flag:
            self.peak_threads = max(self.peak_threads, self.status("Threads"))
            time.sleep(0.05)

    def stop(self):
        self.stop_flag = True
        self.t.join()
        rss = self.status("VmHWM")
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        return rss


def to_ms(s):
    """wrk's latency: 311.00us, 1.20ms, 2.13s, 1.05m"""
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", s)
    if not m:
        raise RuntimeError(f"latency {s!r}")
    v = float(m.group(1))
    return v * {"us": 1e-3, "ms": 1, "s": 1e3, "m": 6e4, "h": 3.6e6}[m.group(2)]


def wrk(port, conns):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{DUR}s", "--latency", "--timeout", "10s",
           f"http://127.0.0.1:{port}/"]
    commands.append(" ".join(cmd))
    ru0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=DUR + 60)
    ru1, t1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.time()
    busy = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    wrk_cpu = (busy / (t1 - t0), (ru1.ru_stime - ru0.ru_stime) / busy if busy else 0.0)  # its core's share; kernel's part
    out = p.stdout
    m_rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    m50 = re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M)  # the Latency Distribution lines
    m99 = re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M)
    if not (m_rps and m50 and m99):
        raise RuntimeError(" ".join((out + p.stderr).split())[:160])
    errs = re.search(r"Socket errors: (.*)", out)
    return float(m_rps.group(1)), to_ms(m50.group(1)), to_ms(m99.group(1)), (errs.group(1) if errs else ""), wrk_cpu
