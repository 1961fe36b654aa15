/* Differential: each subject run stock is the specification; the same
 * binary under gpatch must print exactly the same. */
#include "harness.h"

TestSuite(differential, .fini = h_cleanup, .timeout = 90);

static char stock[65536], patched[65536];

#define same_output(prog, timeout_s) h_same_output(prog, timeout_s, stock, patched, sizeof stock)

/* every core hook, happy path and bad inputs: same return and errno */
Test(differential, io_edge_bad_inputs_and_semantics) { same_output("build/progs/io_edge", 60); }

/* a -O2 -D_FORTIFY_SOURCE=2 build goes through __read_chk, __recv_chk... */
Test(differential, fortified_build)
{
    char *nm[] = {"nm", "-D", "--undefined-only", h_path("build/progs/fortified"), NULL};
    int st = h_run(nm, 0, stock, sizeof stock, 20);
    cr_assert_eq(st, 0);
    cr_assert(strstr(stock, "__read_chk") && strstr(stock, "__recv_chk") && strstr(stock, "__recvfrom_chk") &&
                  strstr(stock, "__poll_chk"),
              "the fortified subject does not import the _chk functions:\n%s", stock);
    same_output("build/progs/fortified", 30);
}

/* mutexes (held while parked), conds, sems, rwlocks, barriers, once, keys,
 * spin, cancel: contention across 500 threads and every bad input */
Test(differential, sync_primitives) { same_output("build/progs/sync_edge", 60); }

/* waitpid, system, flock (helper threads), DNS, epoll_wait, eventfd, sigwait,
 * fork+exec, threads after fork, C11 threads, named semaphores */
Test(differential, blocking_calls_beyond_one_fd) { same_output("build/progs/blocking_calls", 60); }

/* EINTR as stock: SA_RESTART or not, calls that never restart, sleep's
 * remaining seconds, nanosleep's rem */
Test(differential, eintr) { same_output("build/progs/signals", 60); }

/* a signal sent to one thread that blocks it pends for that thread alone:
 * taken by its later sigwait (on any worker), not by another thread's, run
 * in it when it unblocks it or sigsuspends, gone when it exits */
Test(differential, signal_pending_for_its_thread) { same_output("build/progs/sig_pending", 60); }

/* ...except a signal some signalfd is for: that goes the kernel's way, so a
 * thread's signalfd read sees one sent to it. One worker: with two, the
 * reader's worker polls the signalfd on another OS thread than the one the
 * signal pends on (README, known limits) */
Test(differential, signalfd_reads_a_signal_sent_to_its_thread)
{
    char *env[] = {"GPATCH_WORKERS=1", NULL};
    h_same_output_env("build/progs/sig_signalfd", env, 20, stock, patched, sizeof stock);
}

/* pthread_exit from main: the process lives until its threads end, then
 * exits 0 through atexit, as glibc; pthread_attr_setstack honoured */
Test(differential, pthread_exit_from_main_and_setstack)
{
    same_output("build/progs/exit_main", 30);
    cr_assert(strstr(patched, "worker 3 done\natexit handler ran"), "%s", patched);
    cr_assert(strstr(patched, "on the given stack: 1"), "%s", patched);
}

/* SIGPIPE with its default action kills the writer, as stock */
Test(differential, sigpipe_default_action)
{
    char *argv[] = {h_path("build/progs/sigpipe"), NULL};
    int a = h_run(argv, 0, stock, sizeof stock, 20);
    int b = h_run(argv, 1, patched, sizeof patched, 20);
    cr_assert_eq(a, 128 + SIGPIPE, "stock: %d", a);
    cr_assert_eq(b, a, "under gpatch: %d", b);
    cr_assert_str_eq(patched, stock);
}

/* std::thread: the same results, on one OS thread under gpatch */
Test(differential, cxx_std_thread)
{
    char *argv[] = {h_path("build/progs/cxx_threads"), NULL};
    cr_assert_eq(h_run(argv, 0, stock, sizeof stock, 30), 0);
    cr_assert_eq(h_run(argv, 1, patched, sizeof patched, 30), 0);
    cr_assert(strstr(stock, "count=200 sum=19900"), "%s", stock);
    cr_assert(strstr(patched, "count=200 sum=19900"), "%s", patched);
    cr_assert(strstr(stock, "os_threads_during=201"), "%s", stock);
    cr_assert(strstr(patched, h_workers_line("os_threads_during", "\n")), "under gpatch (%d workers):\n%s", h_workers(), patched);
}

/* close() of an fd another thread waits on wakes it with EBADF (stock Linux
 * would leave it blocked: the issue asks for the wake-up) */
Test(differential, close_wakes_waiter_with_ebadf)
{
    char *argv[] = {h_path("build/progs/close_wait"), NULL};
    cr_assert_eq(h_run(argv, 0, stock, sizeof stock, 20), 0);
    cr_assert(strstr(stock, "reader: ret=1 errno=-\nreader: ret=1 errno=-\ndone"), "%s", stock);
    cr_assert_eq(h_run(argv, 1, patched, sizeof patched, 20), 0, "%s", patched);
    cr_assert(strstr(patched, "reader: ret=-1 errno=EBADF\nreader: ret=-1 errno=EBADF\ndone"),
              "close and dup2 both wake the reader: %s", patched);
}

/* programs that never make a thread, and tools: exactly as stock */
static void passthrough(char *const argv[])
{
    int a = h_run(argv, 0, stock, sizeof stock, 30);
    int b = h_run(argv, 1, patched, sizeof patched, 30);
    cr_assert_eq(a, b);
    cr_assert(strlen(stock) > 0);
    cr_assert_str_eq(patched, stock);
}

Test(differential, passthrough_bash_pipeline)
{
    char *argv[] = {"bash", "-c", "cd / && ls | wc -l; echo $((6*7))", NULL};
    passthrough(argv);
}

Test(differential, passthrough_make_version)
{
    char *argv[] = {"make", "--version", NULL};
    passthrough(argv);
}

Test(differential, passthrough_python)
{
    char *argv[] = {"/usr/bin/python3", "-c", "import os, sys; print(1); print(sorted(os.listdir('/'))[:3]); sys.stdout.flush()", NULL};
    passthrough(argv);
}

/* Signals sent to green threads (issue 19): each runs its handler in its
 * target, as stock -- four pthread_kills in a row, a thread's own, one kept
 * pending that steers nothing, waits that go on after the handler
 * (rel_sig_kill_many); a process signal goes to the thread that lets it in,
 * waiting in sigsuspend, ppoll or pselect while main blocks it
 * (rel_sig_suspend); with 1 and 2 workers and both TLS modes */
static void every_mode(const char *prog, int timeout_s)
{
    static char *envs[][3] = {{"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL},
                              {"GPATCH_WORKERS=1", "GPATCH_TLS=own", NULL},
                              {"GPATCH_WORKERS=2", "GPATCH_TLS=shared", NULL},
                              {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL}};
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++)
        h_same_output_env(prog, envs[i], timeout_s, stock, patched, sizeof stock);
}
Test(differential, pthread_kill_runs_the_handler_in_its_target) { every_mode("build/progs/rel_sig_kill_many", 30); }
Test(differential, process_signal_goes_to_the_thread_that_lets_it_in) { every_mode("build/progs/rel_sig_suspend", 30); }

/* pthread_kill reaches a thread blocked in a call gpatch cannot see (fgets
 * on a pipe): EINTR without SA_RESTART, the line with it. Only where that
 * thread is alone on its OS thread: two workers, or own TLS (hand-off); with
 * one worker and shared TLS the read stalls the worker (README) */
Test(differential, pthread_kill_interrupts_a_call_gpatch_cannot_see)
{
    static char *envs[][3] = {{"GPATCH_WORKERS=1", "GPATCH_TLS=own", NULL},
                              {"GPATCH_WORKERS=2", "GPATCH_TLS=shared", NULL},
                              {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL}};
    for (size_t i = 0; i < sizeof envs / sizeof *envs; i++)
        h_same_output_env("build/progs/sig_unseen", envs[i], 30, stock, patched, sizeof stock);
}

/* dup and close inside a signal handler, while threads make and close pipes:
 * the fd table's bookkeeping is deferred, never done in the handler (with
 * two workers it spun on a lock the interrupted close held) */
Test(differential, fd_calls_in_a_signal_handler)
{
    char *own[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL};
    h_same_output_env("build/progs/rel_sig_fd_handler", own, 30, stock, patched, sizeof stock);
    char *shared[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=shared", NULL};
    h_same_output_env("build/progs/rel_sig_fd_handler", shared, 30, stock, patched, sizeof stock);
    char *one[] = {"GPATCH_WORKERS=1", NULL};
    h_same_output_env("build/progs/rel_sig_fd_handler", one, 30, stock, patched, sizeof stock);
}

/* a call its file's access mode forbids (a read of a pipe's write end, a
 * write of a FIFO opened O_RDONLY...) answers EBADF at once: also on the
 * poll-first path that kernels refusing RWF_NOWAIT on pipes take (forced
 * here by GPATCH_NO_RWF_NOWAIT=1; FIFOs opened by name take it anyway),
 * where it waited forever for a direction the file was not opened for */
Test(differential, access_mode_forbids_at_once)
{
    char *rwf[] = {"GPATCH_WORKERS=2", NULL};
    h_same_output_env("build/progs/rel_pipe_accmode", rwf, 30, stock, patched, sizeof stock);
    char *pollfirst[] = {"GPATCH_NO_RWF_NOWAIT=1", NULL};
    h_same_output_env("build/progs/rel_pipe_accmode", pollfirst, 30, stock, patched, sizeof stock);
    char *pollfirst2[] = {"GPATCH_NO_RWF_NOWAIT=1", "GPATCH_WORKERS=2", "GPATCH_TLS=shared", NULL};
    h_same_output_env("build/progs/rel_pipe_accmode", pollfirst2, 30, stock, patched, sizeof stock);
}

/* Files gpatch polls before it calls (pipes on kernels that refuse
 * RWF_NOWAIT for them, as Debian 12's 6.1 does; GPATCH_NO_RWF_NOWAIT=1 takes
 * that path here): a 1 MiB write or writev into a pipe whose reader shares
 * the writer's worker completes (it blocked the worker in the kernel, the
 * reader never ran); writes a timerfd or signalfd refuses, and a read an
 * epoll fd refuses, answer at once; an eventfd write still waits. */
Test(differential, poll_first_writes_as_stock, .timeout = 150)
{
    char *one_shared[] = {"GPATCH_NO_RWF_NOWAIT=1", "GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    char *one_own[] = {"GPATCH_NO_RWF_NOWAIT=1", "GPATCH_WORKERS=1", "GPATCH_TLS=own", NULL};
    char *two_shared[] = {"GPATCH_NO_RWF_NOWAIT=1", "GPATCH_WORKERS=2", "GPATCH_TLS=shared", NULL};
    char *rwf[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    h_same_output_env("build/progs/rel_poll_first", one_shared, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_poll_first", one_own, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_poll_first", two_shared, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_poll_first", rwf, 30, stock, patched, sizeof stock);
}

/* user, group, shadow, service and protocol lookups (shim/nss.c): stock's
 * results, return values and errno, from threads and main, _r forms from 16
 * threads at once */
Test(differential, nss_lookups_as_stock, .timeout = 120)
{
    char *one_shared[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    char *two_own[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL};
    h_same_output_env("build/progs/rel_nss", one_shared, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_nss", two_own, 30, stock, patched, sizeof stock);
}

/* A user lookup whose next source (after files) answers in 300 ms stops
 * only its own thread: a ticker on the same worker goes on. The slow source
 * is tests/nss/slow_nss.c under the name of systemd's module, so this needs
 * /etc/nsswitch.conf's passwd line to name systemd (Debian 12's default). */
Test(differential, slow_name_service_stalls_only_its_thread, .timeout = 120)
{
    FILE *f = fopen("/etc/nsswitch.conf", "r");
    char line[256];
    int systemd = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "passwd:", 7) == 0 && strstr(line, "systemd")) systemd = 1;
    if (f) fclose(f);
    if (!systemd) cr_skip_test("/etc/nsswitch.conf's passwd line names no systemd source to stand in for");
    setenv("LD_LIBRARY_PATH", h_path("build/nss"), 1); /* this test's process: stock and gpatch alike */
    char *one_shared[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    char *one_own[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=own", NULL};
    h_same_output_env("build/progs/rel_nss_slow", one_shared, 30, stock, patched, sizeof stock);
    cr_assert(strstr(stock, "went on during the slow lookup: yes"), "the slow source was not reached:\n%s", stock);
    h_same_output_env("build/progs/rel_nss_slow", one_own, 30, stock, patched, sizeof stock);
}

/* pclose's wait for popen's child (glibc's own waitpid) stops only its
 * thread; its status and a writer's flush as stock */
Test(differential, pclose_waits_on_a_helper, .timeout = 120)
{
    char *one_shared[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    char *two_own[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL};
    h_same_output_env("build/progs/rel_pclose", one_shared, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_pclose", two_own, 30, stock, patched, sizeof stock);
}

/* stdio reads of a pipe written late by another thread (glibc's own read
 * refills the stream): fgets, getc, fread, getline, getdelim and EOF as
 * stock, and a ticker thread goes on; the old library deadlocked with shared
 * TLS (reader and writer on one worker) */
Test(differential, stdio_reads_of_a_pipe_wait_on_a_helper, .timeout = 150)
{
    char *one_shared[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    char *two_shared[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=shared", NULL};
    char *one_own[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=own", "GPATCH_HANDOFF_MS=0", NULL};
    h_same_output_env("build/progs/rel_stdio_pipe", one_shared, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_stdio_pipe", two_shared, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_stdio_pipe", one_own, 30, stock, patched, sizeof stock);
}

/* stdin a terminal (a pty's slave) typed into late by another thread:
 * fgets, getchar, scanf, getline on stdin and the terminal's EOF, with a
 * ticker going on (rel_stdio_pty) */
Test(differential, stdio_reads_of_a_terminal_as_stock)
{
    static char stock[4096], patched[4096];
    char *one_shared[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    char *one_own[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=own", "GPATCH_HANDOFF_MS=0", NULL};
    h_same_output_env("build/progs/rel_stdio_pty", one_shared, 30, stock, patched, sizeof stock);
    h_same_output_env("build/progs/rel_stdio_pty", one_own, 30, stock, patched, sizeof stock);
}

/* A program that creates threads until pthread_create fails gets EAGAIN
 * at RLIMIT_NPROC, as stock, instead of going on to the OOM killer: run as
 * nobody (the kernel does not hold root to the limit) with a limit of 300 */
Test(differential, thread_limit_is_eagain_at_rlimit_nproc, .timeout = 120)
{
    if (geteuid() != 0) cr_skip_test("needs root, to run the subject as nobody under prlimit");
    /* nobody may not reach the build (a clone in a 0700 directory): copies in a
     * directory it can read */
    char dir[] = "/tmp/gpatch-limit-XXXXXX", prog[64], lib[96], cmd[600];
    cr_assert(mkdtemp(dir));
    snprintf(prog, sizeof prog, "%s/thread_limit", dir);
    snprintf(lib, sizeof lib, "LD_PRELOAD=%s/libgpatch.so", dir);
    snprintf(cmd, sizeof cmd, "chmod 755 %s && cp %s %s/libgpatch.so %s/ && chmod 755 %s/*", dir,
             h_path("build/progs/thread_limit"), h_path("build"), dir, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    char *argv_stock[] = {"prlimit", "--nproc=300", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          prog, "300", NULL};
    char *argv_gp[] = {"prlimit", "--nproc=300", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       "env", lib, prog, "300", NULL};
    int a = h_run(argv_stock, 0, stock, sizeof stock, 60);
    int b = h_run(argv_gp, 0, patched, sizeof patched, 60);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    cr_assert_eq(a, 0, "stock exited %d:\n%s", a, stock);
    cr_assert(strstr(stock, "failed with: EAGAIN\nthreads made: within 5 of 299: yes"), "stock:\n%s", stock);
    cr_assert_eq(b, 0, "gpatch exited %d:\n%s", b, patched);
    cr_assert_str_eq(patched, stock);
}

/* the subject stock against gpatch with one worker, with two and own TLS,
 * and with shared TLS */
static void same_in_three(const char *prog, int timeout_s)
{
    char *one[] = {"GPATCH_WORKERS=1", NULL};
    char *two_own[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL};
    char *shared[] = {"GPATCH_TLS=shared", NULL};
    h_same_output_env(prog, one, timeout_s, stock, patched, sizeof stock);
    h_same_output_env(prog, two_own, timeout_s, stock, patched, sizeof stock);
    h_same_output_env(prog, shared, timeout_s, stock, patched, sizeof stock);
}

/* pthread_key_delete, then a create that reuses the number: the new key is
 * NULL in every thread and its destructor never sees the old key's values;
 * setspecific on a deleted key is EINVAL */
Test(differential, key_number_reused_starts_empty) { same_in_three("build/progs/rel_key_reuse", 20); }

/* FUTEX_WAKE by number wakes the waiters it counts though nobody changed
 * the word; a count of 0 wakes one, as the kernel's; none waiting: 0 */
Test(differential, futex_wake_wakes_without_a_change) { same_in_three("build/progs/rel_futex_wake", 20); }

/* pthread_create stores the new thread's id before it can run: a child on
 * another worker that reads its creator's variable finds itself there,
 * even when the store is slow (it faults into a handler that spins) */
Test(differential, create_stores_the_id_before_the_thread_runs) { same_in_three("build/progs/rel_create_store", 20); }

/* glibc's per-thread buffers (dlerror's message, strerror's and strsignal's
 * text for unknown numbers) are freed when a green thread exits: 50,000
 * threads, resident memory bounded loosely */
Test(differential, thread_exit_frees_glibc_buffers) { same_in_three("build/progs/rel_thread_buffers", 60); }

/* main's strerror and strsignal texts stay its own while threads make
 * theirs (own TLS: with shared TLS the buffers are its worker's) */
Test(differential, strerror_text_stays_the_threads_own)
{
    char *one[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=own", NULL};
    char *two[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL};
    h_same_output_env("build/progs/strerror_main", one, 20, stock, patched, sizeof stock);
    h_same_output_env("build/progs/strerror_main", two, 20, stock, patched, sizeof stock);
}

/* the CPU clock, affinity and scheduling policy of a green thread are the
 * OS thread's it runs on: a spinner's clock shows its spin, what main sets
 * on it is what it sees of itself */
Test(differential, os_thread_calls_act_where_the_thread_runs) { same_in_three("build/progs/rel_os_thread_ops", 20); }

/* pthread_once whose initializer is cancelled (deferred, and with the
 * asynchronous type set) leaves the control as if never called: a thread
 * waiting in it meanwhile runs its own initializer (Open POSIX Test Suite
 * pthread_once/3-1; before, the control stayed "running" and both hung) */
Test(differential, once_cancelled_initializer_runs_again) { same_in_three("build/progs/rel_once_cancel", 20); }

/* a process signal that main blocks and only another thread lets in runs
 * there (gpatch's signal catcher, runtime/sigthread.c); before, no OS
 * thread's real mask let it in and it stayed pending for good (Open POSIX
 * pthread_atfork/3-3 and the other "signal stream" tests hung) */
Test(differential, process_signal_main_blocks_runs_in_the_thread_that_takes_it)
{
    same_in_three("build/progs/rel_sig_main_blocks", 20);
}

/* sigpending in a thread other than main: the process's pending signals it
 * blocks and its own, never main's own (a raise of main's); before, a
 * green thread on main's OS thread saw main's (Open POSIX pthread_create/8-1) */
Test(differential, sigpending_of_a_thread_is_not_mains) { same_in_three("build/progs/rel_sigpending_thread", 20); }

/* a process-shared mutex (glibc's, owner = OS thread id) held by one
 * thread is not another's: trylock EBUSY, unlock EPERM (recursive and
 * errorcheck), though green threads share an OS thread id (Open POSIX
 * pthread_mutex_trylock/1-2) */
Test(differential, pshared_mutex_owner_is_one_thread) { same_in_three("build/progs/rel_pshared_owner", 20); }

/* preemption (runtime/preempt.c) in four settings: one and two workers,
 * own and shared TLS, a 1 ms slice (preempted often) */
static void same_preempting(const char *prog, int timeout_s)
{
    char *e[4][4] = {{"GPATCH_WORKERS=1", "GPATCH_TLS=own", "GPATCH_PREEMPT_MS=1", NULL},
                     {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", "GPATCH_PREEMPT_MS=1", NULL},
                     {"GPATCH_WORKERS=2", "GPATCH_TLS=own", "GPATCH_PREEMPT_MS=1", NULL},
                     {"GPATCH_WORKERS=2", "GPATCH_TLS=shared", "GPATCH_PREEMPT_MS=1", NULL}};
    for (int i = 0; i < 4; i++) h_same_output_env(prog, e[i], timeout_s, stock, patched, sizeof stock);
}

/* a wait with a mask of its own that blocks nearly everything (sigsuspend
 * in a thread and in main, ppoll) leaves preemption's signal out of the
 * worker's real mask: the others there are still preempted (before: the
 * spinners beside it never were, a hang in every setting) */
Test(differential, wait_mask_leaves_preemption_on) { same_preempting("build/progs/rel_preempt_waitmask", 30); }

/* a program that blocks SIGRTMIN+10 (preemption's) and takes it with
 * sigwaitinfo or a signalfd before any thread, and one that installs a
 * handler for it while main blocks it: pending, as stock (before: the
 * first sigqueue ended the process, SIG_DFL, though it never made a thread) */
Test(differential, preemption_signal_blocked_by_the_program_pends)
{
    same_preempting("build/progs/rel_preempt_own_sig", 20);
    char *dflt[] = {NULL};
    h_same_output_env("build/progs/rel_preempt_own_sig", dflt, 20, stock, patched, sizeof stock);
}

/* C++ exceptions thrown, rethrown and caught in loops by four threads,
 * two workers, own TLS, with hand-off's walks and preemption: the hand-off
 * walk never starts inside the unwinder's own code (before: a SIGSEGV in
 * libgcc's _Unwind_Backtrace about 1 run in 5; six runs per setting) */
Test(differential, exceptions_in_loops_survive_handoff_walks)
{
    char *off[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", "GPATCH_PREEMPT_MS=0", NULL};
    char *dflt[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", NULL};
    char *often[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", "GPATCH_PREEMPT_MS=1", NULL};
    for (int i = 0; i < 6; i++) {
        h_same_output_env("build/progs/rel_cxx_throw", off, 30, stock, patched, sizeof stock);
        h_same_output_env("build/progs/rel_cxx_throw", dflt, 30, stock, patched, sizeof stock);
        h_same_output_env("build/progs/rel_cxx_throw", often, 30, stock, patched, sizeof stock);
    }
}
/* a process signal every thread blocks pends for the process: the thread
 * that unblocks it first runs it, as the kernel's. The "signal stream"
 * pattern with a new taker each round: before, one caught by the signal
 * catcher's stale mask was kept for main, which never unblocks it, and the
 * sender waited for its post for good (2 workers, about 3 runs in 10) */
Test(differential, process_signal_nobody_lets_in_goes_to_the_first_that_does)
{
    every_mode("build/progs/rel_sig_stream_exit", 30);
}

/* PTHREAD_EXPLICIT_SCHED: the thread gets the SCHED_FIFO/SCHED_RR policy and
 * priority its attribute names (an OS thread of its own under gpatch), or
 * pthread_create fails as the kernel decides (EPERM unprivileged, EINVAL
 * out of range); it starts with its creator's mask; a green thread joining
 * it parks (cancellable, timed); pthread_setschedparam's bad inputs. Before,
 * the attribute was ignored and the thread reported SCHED_OTHER (Open POSIX
 * pthread_attr_setinheritsched/2-2, pthread_attr_setschedparam/1-3, 1-4,
 * pthread_create/3-2) */
Test(differential, explicit_scheduling_is_applied_or_refused_as_stock)
{
    every_mode("build/progs/rel_sched_explicit", 30);
}

/* a process-shared condition variable between threads of one process, with
 * normal, errorcheck and recursive mutexes (shared or not): woken, timed
 * out or cancelled, the waiter owns the mutex again (main's trylock is
 * EBUSY while its cleanup handler runs); a wait with a mutex the caller
 * does not hold is EPERM. Before: a wait with an errorcheck or recursive
 * mutex blocked the worker (one worker: a hang), a cancel did not end it,
 * and main took a waiter's recursive mutex for its own (Open POSIX
 * pthread_cond_wait/2-2, 2-3, pthread_cond_signal/1-2, ...) */
Test(differential, pshared_cond_waits_own_the_mutex_after) { every_mode("build/progs/rel_pshared_cond", 30); }

/* main blocks every signal before its first thread and one thread takes
 * them with sigwait: threads still preempted, and every thread's mask
 * reads back full (before: threads made after the runtime's start had
 * SIGRTMIN+10 missing from theirs, inherited from main's real mask) */
Test(differential, full_masks_stay_full_under_preemption) { same_preempting("build/progs/rel_preempt_blockall", 30); }

/* guards, which held on e32bc09 too: no call returns EINTR because of
 * preemption (raw system calls and libc's), and children made by fork,
 * posix_spawn and system() while threads compute exit with their own
 * status (a forked child that makes threads preempts its own) */
Test(differential, preemption_never_makes_eintr) { same_preempting("build/progs/rel_preempt_eintr", 40); }
Test(differential, children_made_while_computing_keep_their_status) { same_preempting("build/progs/rel_preempt_fork", 40); }

/* main raises a signal it blocks, then unblocks it: the handler runs before
 * sigprocmask / pthread_sigmask returns (before, on every version, the
 * runtime's stale copy of main's mask routed it and it ran later) */
Test(differential, main_unblocking_runs_its_pending_handler_at_once)
{
    same_in_three("build/progs/rel_sig_unblock_raise", 20);
}

/* guard: the program's code that libc calls back (qsort's and bsearch's
 * comparators, a dl_iterate_phdr callback under the loader's lock, an
 * atexit handler) computing beside computing, sleeping and dlopen-ing
 * threads: never preempted inside, nothing hangs or differs */
Test(differential, callbacks_from_libc_compute_safely) { same_preempting("build/progs/rel_preempt_callbacks", 60); }

/* guard: computing threads preempted and moved (own TLS, up to four
 * workers) keep their __thread values and addresses, errno, pthread_self,
 * rounding mode and signal mask */
Test(differential, preempted_threads_keep_their_own_state)
{
    same_preempting("build/progs/rel_preempt_steal", 60);
    char *four[] = {"GPATCH_WORKERS=4", "GPATCH_TLS=own", NULL};
    h_same_output_env("build/progs/rel_preempt_steal", four, 60, stock, patched, sizeof stock);
}

/* C++ function-local statics with computing constructors, reached by six
 * threads: one constructs, the others wait in the guard. The runtime says
 * the process has threads (__libc_single_threaded 0) as glibc would; with
 * one worker and shared TLS it stayed 1, libstdc++'s guard took a busy
 * guard for recursion and a preempted constructor meant abort */
Test(differential, static_init_guards_wait_under_preemption)
{
    same_preempting("build/progs/rel_cxx_static", 60);
    char *shared[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    h_same_output_env("build/progs/rel_cxx_static", shared, 60, stock, patched, sizeof stock);
}

/* guard: pthread_kill to computing threads runs each one's handler in it
 * soon, a process signal only one thread lets in runs there, and main's
 * SIGALRM handler (setitimer) runs while they compute */
Test(differential, signals_reach_computing_threads) { same_preempting("build/progs/rel_preempt_kill", 20); }

/* a thread that holds stdout's lock (flockfile) while it computes is not
 * preempted: feof, ferror and fputws, which no stream gate covers, wait
 * for it as stock (before, with one worker and shared TLS, they went in:
 * fputws made stdout wide and the holder's lines were lost) */
Test(differential, stream_lock_holder_is_not_preempted)
{
    same_preempting("build/progs/rel_preempt_flockfile", 30);
    char *shared[] = {"GPATCH_WORKERS=1", "GPATCH_TLS=shared", NULL};
    h_same_output_env("build/progs/rel_preempt_flockfile", shared, 30, stock, patched, sizeof stock);
}
