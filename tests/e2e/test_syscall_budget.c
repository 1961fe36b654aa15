/* Process-shared objects between processes, and the system calls gpatch
 * adds on hot paths: counted with strace, stock against preloaded. */
#include "harness.h"

#include <stdint.h>

TestSuite(syscall_budget, .fini = h_cleanup, .timeout = 120);

static char stock[65536], patched[65536];

#define same_output(prog, timeout_s) h_same_output(prog, timeout_s, stock, patched, sizeof stock)

/* a pshared mutex + cond ping-pong, barrier, sems, rwlock, named sem between
 * a parent and its child: first with no thread, then with threads in the
 * parent (the old library hung in the first round: its conds and barriers
 * waited on process-private futexes and queues) */
Test(syscall_budget, pshared_objects_across_fork) { same_output("build/progs/rel_pshared", 60); }

/* 2,000 sigwaits one after another and 64 at once with 24 fds to spare:
 * the old library's signalfd per sigwait ran out of fds (EMFILE) */
Test(syscall_budget, sigwait_under_load_same_as_stock) { same_output("build/progs/rel_hot_syscalls", 60); }

struct counts { long gettid, getpid, vm_readv, signalfd4; };

/* run the subject under strace (the preload reaches the subject only, never
 * strace), its output into out; count the traced calls of every process */
static struct counts traced(const char *prog, int preload, char *out, size_t cap)
{
    char trace[] = "/tmp/gp_syscall_budget.XXXXXX";
    int fd = mkstemp(trace);
    cr_assert(fd >= 0);
    close(fd);
    char env[600];
    snprintf(env, sizeof env, "LD_PRELOAD=%s", h_path("build/libgpatch.so"));
    char *with[] = {"strace", "-f", "-qq", "-o", trace, "-e", "trace=gettid,getpid,process_vm_readv,signalfd4",
                    "-E", env, h_path(prog), NULL};
    char *without[] = {"strace", "-f", "-qq", "-o", trace, "-e", "trace=gettid,getpid,process_vm_readv,signalfd4",
                       h_path(prog), NULL};
    int st = h_run(preload ? with : without, 0, out, cap, 90);
    struct counts c = {0, 0, 0, 0};
    FILE *f = fopen(trace, "r");
    cr_assert(f, "no trace file");
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, " gettid(")) c.gettid++;
        else if (strstr(line, " getpid(")) c.getpid++;
        else if (strstr(line, " process_vm_readv(")) c.vm_readv++;
        else if (strstr(line, " signalfd4(")) c.signalfd4++;
    }
    fclose(f);
    unlink(trace);
    cr_assert_eq(st, 0, "%s under strace (%s) exited %d:\n%s", prog, preload ? "gpatch" : "stock", st, out);
    return c;
}

/* 20,000 lock/unlock pairs and 2,000 expired timed waits by main, 2,000
 * sigwaits, 400 timed sleeps and polls by a thread: what gpatch adds must not grow with them (the old library made
 * a gettid per lock and unlock, getpid + process_vm_readv twice per timed
 * wait and once per sleep or poll timeout, and a signalfd per sigwait) */
Test(syscall_budget, hot_paths_add_no_system_calls)
{
    struct counts s = traced("build/progs/rel_hot_syscalls", 0, stock, sizeof stock);
    struct counts g = traced("build/progs/rel_hot_syscalls", 1, patched, sizeof patched);
    cr_assert_str_eq(patched, stock, "--- stock:\n%s\n--- gpatch:\n%s", stock, patched);
    cr_assert(strstr(stock, "locked 20000 times") && strstr(stock, "sigwait: 2000 SIGUSR1") && strstr(stock, "naps: 400 of 400, bad pointer EFAULT 1"), "%s", stock);
    cr_assert_leq(g.gettid, s.gettid + 16, "gettid: stock %ld, gpatch %ld", s.gettid, g.gettid);
    cr_assert_leq(g.getpid, s.getpid + 16, "getpid: stock %ld, gpatch %ld", s.getpid, g.getpid);
    /* one probe is left: the subject's nanosleep on a bad pointer (EFAULT) */
    cr_assert_leq(g.vm_readv, s.vm_readv + 2, "process_vm_readv: stock %ld, gpatch %ld", s.vm_readv, g.vm_readv);
    cr_assert_leq(g.signalfd4, 8, "signalfd4 for 2,064 sigwaits: %ld", g.signalfd4);
}
