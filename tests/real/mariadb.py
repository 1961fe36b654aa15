#!/usr/bin/python3
"""MariaDB (Debian's mariadb-server) stock and under gpatch, in one run.

Each mode gets a fresh copy of one throwaway datadir (mariadb-install-db),
a server with default settings except where it listens (a socket in the temp
dir, a free port on 127.0.0.1), root without a password, and
max_connections=1000 (the default 151 would refuse the 250 clients), then:

  1. a client's query is answered (SELECT 1+1);
  2. 250 clients run SELECT SLEEP(4) at once (mysqlslap): all answered, the
     server saw 250 connections at once (Max_used_connections), and the
     server's OS threads are sampled from /proc: stock makes one per
     connection, gpatch must stay below one per connection;
  3. mysqlslap --concurrency=200 --auto-generate-sql --iterations=3 passes;
  4. 200 clients update one counter row 4,000 times and insert 4,000 rows:
     the counter and the table's sums are exact, and every result printed is
     the same stock and under gpatch (the differential check);
  5. mariadb-admin shutdown: the server exits 0 and logs "Shutdown complete".

Every step has a timeout; a server left behind is killed. Timings (SLEEP wall
time, mysqlslap's average, server CPU seconds) are printed as figures, never
asserted. Exit status 0 when every check passed in both modes, 1 otherwise,
77 when MariaDB is not installed.

usage: tests/real/mariadb.py [--lib build/libgpatch.so] [--json FILE]
       [--modes stock,gpatch] [--noaio] (also a gpatch run with
       innodb_use_native_aio=0)
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARIADBD = "/usr/sbin/mariadbd"
TOOLS = ["mariadb-install-db", "mariadb", "mariadb-admin", "mysqlslap"]
SLEEP_CLIENTS = 250
SLAP_CLIENTS = 200
COUNT_QUERIES = 4000


def log(*a):
    print(*a, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def threads_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Server:
    def __init__(self, mode, datadir, lib, extra):
        self.mode, self.dir = mode, datadir
        self.sock = os.path.join(datadir, "s.sock")
        self.port = free_port()
        self.errlog = os.path.join(datadir, "err.log")
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if mode != "stock":
            env["LD_PRELOAD"] = lib
            env["GPATCH_STATS"] = "1"  # printed to the error log at exit
        cmd = [MARIADBD, "--no-defaults", "--datadir=" + datadir, "--socket=" + self.sock,
               "--port=%d" % self.port, "--bind-address=127.0.0.1", "--user=root",
               "--pid-file=" + os.path.join(datadir, "m.pid"), "--log-error=" + self.errlog,
               "--max-connections=1000"] + extra
        self.out = open(os.path.join(datadir, "stdout.log"), "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def client(self, *args):
        return ["--no-defaults", "-S", self.sock, "-uroot"] + list(args)

    def sql(self, query, timeout=60):
        r = subprocess.run(["mariadb"] + self.client("-N", "-B", "-e", query), capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("query %r: exit %d: %s" % (query, r.returncode, r.stderr.strip()))
        return r.stdout.strip()

    def wait_ready(self, timeout=90):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited %d while starting" % self.proc.returncode)
            r = subprocess.run(["mariadb-admin"] + self.client("--connect-timeout=2", "ping"),
                               capture_output=True, timeout=30)
            if r.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("server not answering after %d s" % timeout)

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()

    def errlog_text(self):
        try:
            return open(self.errlog, errors="replace").read()
        except OSError:
            return ""


def slap(srv, args, timeout):
    t0 = time.monotonic()
    r = subprocess.run(["mysqlslap"] + srv.client(*args), capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    text = r.stdout + r.stderr
    avg = None
    for line in text.splitlines():
        if "Average number of seconds" in line:
            avg = float(line.split(":")[1].split()[0])
    return r.returncode, text, wall, avg


def run_mode(mode, template, work, lib, extra):
    """One server through every step; returns (figures, results, failures)."""
    d = os.path.join(work, mode)
    shutil.copytree(template, d)
    fig, res, fails = {"mode": mode}, [], []

    def check(cond, what):
        if not cond:
            fails.append(what)
            log("  FAIL [%s] %s" % (mode, what))
        return cond

    t0 = time.monotonic()
    srv = Server(mode.split("-")[0], d, lib, extra)
    try:
        srv.wait_ready()
        fig["start_s"] = round(time.monotonic() - t0, 2)
        # 1. a client is answered
        out = srv.sql("SELECT 1+1, @@innodb_use_native_aio")
        res.append("select 1+1: " + out.split("\t")[0])
        fig["native_aio"] = out.split("\t")[1]
        check(out.split("\t")[0] == "2", "SELECT 1+1 gave %r" % out)
        # 2. 250 concurrent SLEEP(4), the server's OS threads sampled meanwhile
        srv.sql("CREATE DATABASE slp")  # mysqlslap --query runs in an existing schema
        base_threads = threads_of(srv.proc.pid)
        peak = [base_threads]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], threads_of(srv.proc.pid))
                time.sleep(0.01)
        th = threading.Thread(target=sample)
        th.start()
        try:
            rc, text, wall, avg = slap(srv, ["--concurrency=%d" % SLEEP_CLIENTS, "--query=SELECT SLEEP(4)",
                                             "--number-of-queries=%d" % SLEEP_CLIENTS, "--iterations=1",
                                             "--create-schema=slp", "--no-drop"], timeout=180)
        finally:
            done.set()
            th.join()
        fig.update(sleep_wall_s=round(wall, 2), sleep_avg_s=avg, threads_idle=base_threads, threads_peak=peak[0])
        check(rc == 0 and "rror" not in text, "SLEEP(4) x %d: mysqlslap exit %d: %s" % (SLEEP_CLIENTS, rc, text[-400:]))
        used = int(srv.sql("SHOW GLOBAL STATUS LIKE 'Max_used_connections'").split()[1])
        fig["max_used_connections"] = used
        res.append("SLEEP(4) clients connected at once >= %d: %s" % (SLEEP_CLIENTS, used >= SLEEP_CLIENTS))
        check(used >= SLEEP_CLIENTS, "Max_used_connections %d < %d" % (used, SLEEP_CLIENTS))
        if mode == "stock":
            check(peak[0] >= SLEEP_CLIENTS, "stock's peak threads %d < %d: the sampler missed them" % (peak[0], SLEEP_CLIENTS))
        else:
            check(peak[0] < SLEEP_CLIENTS, "peak threads %d: one per connection or more" % peak[0])
        log("  [%s] SLEEP(4) x %d: %.2f s wall, mysqlslap %s s, server threads idle %d, peak %d"
            % (mode, SLEEP_CLIENTS, wall, avg, base_threads, peak[0]))
        # 3. mysqlslap's own generated load
        rc, text, wall, avg = slap(srv, ["--concurrency=%d" % SLAP_CLIENTS, "--auto-generate-sql",
                                         "--iterations=3"], timeout=600)
        fig.update(slap_wall_s=round(wall, 2), slap_avg_s=avg)
        res.append("mysqlslap auto-generate-sql x %d, 3 iterations: exit %d" % (SLAP_CLIENTS, rc))
        check(rc == 0 and "rror" not in text, "mysqlslap auto-generate-sql: exit %d: %s" % (rc, text[-400:]))
        log("  [%s] mysqlslap --concurrency=%d --auto-generate-sql --iterations=3: exit %d, average %s s, %.1f s wall"
            % (mode, SLAP_CLIENTS, rc, avg, wall))
        # 4. exact results under contention: one hot row, many inserts
        srv.sql("CREATE DATABASE chk; CREATE TABLE chk.c (id INT PRIMARY KEY, n INT) ENGINE=InnoDB;"
                "INSERT INTO chk.c VALUES (1, 0);"
                "CREATE TABLE chk.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(32)) ENGINE=InnoDB")
        t1 = time.monotonic()
        for q in ["UPDATE c SET n = n + 1 WHERE id = 1",
                  "INSERT INTO t (v, s) VALUES (CONNECTION_ID() % 7, REPEAT('x', 20))"]:
            rc, text, _, _ = slap(srv, ["--concurrency=%d" % SLAP_CLIENTS, "--query=" + q,
                                        "--number-of-queries=%d" % COUNT_QUERIES, "--iterations=1",
                                        "--create-schema=chk", "--no-drop"], timeout=600)
            check(rc == 0 and "rror" not in text, "%s: mysqlslap exit %d: %s" % (q, rc, text[-400:]))
        fig["count_wall_s"] = round(time.monotonic() - t1, 2)
        n = srv.sql("SELECT n FROM chk.c WHERE id = 1")
        rows = srv.sql("SELECT COUNT(*), COUNT(DISTINCT id), SUM(LENGTH(s)), MAX(v) < 7 FROM chk.t")
        seq = srv.sql("SELECT SUM(seq), COUNT(*) FROM chk.seq_1_to_100000 WHERE seq % 3 = 1")
        res += ["counter after %d updates: %s" % (COUNT_QUERIES, n), "rows, distinct ids, chars, v<7: " + rows,
                "sum of a sequence: " + seq]
        check(n == str(COUNT_QUERIES), "counter %s, expected %d" % (n, COUNT_QUERIES))
        check(rows.split("\t")[:3] == [str(COUNT_QUERIES), str(COUNT_QUERIES), str(20 * COUNT_QUERIES)],
              "table: %s" % rows)
        fig["cpu_s"] = cpu_seconds(srv.proc.pid)
        # 5. clean shutdown
        r = subprocess.run(["mariadb-admin"] + srv.client("shutdown"), capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "mariadb-admin shutdown: exit %d: %s" % (r.returncode, r.stderr))
        try:
            st = srv.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            st = None
        res.append("shutdown: server exit %s" % st)
        check(st == 0, "server after shutdown: exit %s" % st)
        check("Shutdown complete" in srv.errlog_text(), "no 'Shutdown complete' in the error log")
        stats = [l for l in srv.errlog_text().splitlines() if l.startswith("gpatch")]
        fig["gpatch_log"] = stats[-4:]
        for l in stats[-4:]:
            log("  [%s] %s" % (mode, l))
    except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, IndexError) as e:
        check(False, "%s: %s" % (type(e).__name__, e))
        log("  [%s] error log tail:\n%s" % (mode, "\n".join(srv.errlog_text().splitlines()[-25:])))
    finally:
        srv.kill()
    return fig, res, fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "libgpatch.so"))
    ap.add_argument("--json")
    ap.add_argument("--modes", default="stock,gpatch")
    ap.add_argument("--noaio", action="store_true")
    a = ap.parse_args()
    missing = [t for t in TOOLS if not shutil.which(t)] + ([] if os.path.exists(MARIADBD) else [MARIADBD])
    if missing:
        log("mariadb.py: SKIP: not installed: %s (`make test-real` installs mariadb-server mariadb-client)"
            % " ".join(missing))
        return 77
    lib = os.path.abspath(a.lib)
    modes = a.modes.split(",") + (["gpatch-noaio"] if a.noaio else [])
    work = tempfile.mkdtemp(prefix="gpatch-mariadb.")
    t_all = time.monotonic()
    try:
        template = os.path.join(work, "template")
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + template,
                            "--auth-root-authentication-method=normal", "--user=root", "--skip-test-db"],
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            log("mariadb-install-db failed (%d):\n%s" % (r.returncode, r.stdout[-2000:] + r.stderr[-2000:]))
            return 1
        version = subprocess.run([MARIADBD, "--version"], capture_output=True, text=True).stdout.strip()
        log("%s; lib %s" % (version, lib))
        figs, results, fails = [], {}, []
        for m in modes:
            log("== %s" % m)
            extra = ["--innodb-use-native-aio=0"] if m.endswith("noaio") else []
            f, res, fl = run_mode(m, template, work, lib, extra)
            figs.append(f)
            results[m] = res
            fails += ["[%s] %s" % (m, x) for x in fl]
        base = results.get(modes[0], [])
        for m in modes[1:]:
            if results[m] != base:
                fails.append("[%s] results differ from %s:\n  %s\n  vs\n  %s"
                             % (m, modes[0], "\n  ".join(results[m]), "\n  ".join(base)))
        log("== results (%s):" % modes[0])
        for l in base:
            log("  " + l)
        log("== figures")
        log("  %-13s %7s %9s %11s %12s %11s %8s" % ("mode", "start s", "SLEEP s", "threads pk",
                                                    "slap avg s", "counts s", "cpu s"))
        for f in figs:
            log("  %-13s %7s %9s %11s %12s %11s %8s" % (f["mode"], f.get("start_s"), f.get("sleep_wall_s"),
                                                       f.get("threads_peak"), f.get("slap_avg_s"),
                                                       f.get("count_wall_s"), f.get("cpu_s")))
        total = time.monotonic() - t_all
        log("== %s in %.0f s" % ("PASS" if not fails else "FAIL", total))
        for x in fails:
            log("  " + x)
        if a.json:
            with open(a.json, "w") as fh:
                json.dump({"version": version, "figures": figs, "results": results, "failures": fails,
                           "seconds": round(total, 1)}, fh, indent=1)
        return 0 if not fails else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
