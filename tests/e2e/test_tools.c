/* The tools: gpatch check, GPATCH_STATS, the blocking monitor, the stack
 * overflow report. Each runs a stock-built subject in its own process. */
#include "harness.h"

TestSuite(tools, .fini = h_cleanup, .timeout = 60);

static char out[65536];

static int sh(const char *cmd)
{
    char *argv[] = {"bash", "-c", (char *)cmd, NULL};
    char *env[] = {NULL};
    struct h_proc pr = h_spawn(argv, 0, env);
    return h_collect(&pr, out, sizeof out, 40);
}

static char cmd[2048];
#define SH(...) (snprintf(cmd, sizeof cmd, __VA_ARGS__), sh(cmd))

Test(tools, check_lists_green_pool_and_blocking_calls)
{
    int st = SH("%s check /usr/bin/python3", h_path("gpatch"));
    cr_assert_eq(st, 1, "python3 has warnings (raw syscall, stdio): %d\n%s", st, out);
    cr_assert(strstr(out, "green   read "), "%s", out);
    cr_assert(strstr(out, "pool    getaddrinfo "), "%s", out);
    cr_assert(strstr(out, "pool    waitpid "), "%s", out);
    cr_assert(strstr(out, "raw syscall()"), "%s", out);
    cr_assert(strstr(out, "verdict: "), "%s", out);
}

Test(tools, check_on_our_subjects)
{
    cr_assert_eq(SH("%s check %s", h_path("gpatch"), h_path("build/progs/sleep_server")), 1, "%s", out);
    cr_assert(strstr(out, "green   sleep ") && strstr(out, "green   accept "), "%s", out);
    cr_assert(strstr(out, "blocks  fflush "), "stdio is reported: %s", out);
    cr_assert(strstr(out, "libraries: 2 needed"), "libc and the loader resolved: %s", out);
    cr_assert_eq(SH("%s check %s", h_path("gpatch"), h_path("build/progs/cxx_threads")), 1, "%s", out);
    cr_assert_null(strstr(out, "warning: thread-local"), "own TLS: nothing to warn about: %s", out);
    cr_assert_eq(SH("GPATCH_TLS=shared %s check %s", h_path("gpatch"), h_path("build/progs/cxx_threads")), 1, "%s", out);
    cr_assert(strstr(out, "thread-local (__thread) data in libstdc++"), "shared TLS is warned about: %s", out);
    cr_assert(strstr(out, "TLS: shared: ") && strstr(out, "(GPATCH_TLS=shared)"), "the mode asked for is said: %s", out);
    /* unset: own where a module has TLS (libstdc++ does), whatever the CPU */
    cr_assert_eq(SH("%s check %s", h_path("gpatch"), h_path("build/progs/cxx_threads")), 1, "%s", out);
    cr_assert(strstr(out, "TLS: own: "), "libstdc++ has thread-local data, so own TLS: %s", out);
    /* a plain C program has none: own only where wrfsbase makes it cheap */
    SH("%s check %s", h_path("gpatch"), h_path("build/progs/sleep_server"));
    int fsgs = system("grep -qw fsgsbase /proc/cpuinfo") == 0;
    cr_assert(strstr(out, fsgs ? "TLS: own: " : "TLS: shared: "), "mode for a program without TLS: %s", out);
}

Test(tools, check_on_a_debian_server)
{
    int st = SH("%s check /usr/bin/memcached", h_path("gpatch"));
    cr_assert(st == 0 || st == 1, "%d: %s", st, out);
    cr_assert(strstr(out, "green   epoll_wait ") && strstr(out, "libevent"), "%s", out);
    cr_assert(strstr(out, "green   pthread_cond_wait "), "%s", out);
}

Test(tools, check_refuses_what_cannot_work)
{
    cr_assert_eq(SH("%s check %s", h_path("gpatch"), h_path("build/progs/static_hello")), 2, "%s", out);
    cr_assert(strstr(out, "statically linked"), "%s", out);
    cr_assert_eq(SH("%s check /etc/hostname", h_path("gpatch")), 2, "%s", out);
    cr_assert(strstr(out, "not an ELF program"), "%s", out);
    cr_assert_eq(SH("%s check /no/such/program 2>&1", h_path("gpatch")), 2, "%s", out);
}

Test(tools, check_json)
{
    SH("%s check --json %s", h_path("gpatch"), h_path("build/progs/echo_server"));
    cr_assert(out[0] == '{', "%s", out);
    cr_assert(strstr(out, "{\"name\": \"accept\", \"status\": \"green\""), "%s", out);
    cr_assert(strstr(out, "\"status\": 1}"), "%s", out);
}

Test(tools, stats_block_at_exit)
{
    int st = SH("%s run --stats %s 2>&1", h_path("gpatch"), h_path("build/progs/cxx_threads"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "gthreads created 200, peak alive 201"), "%s", out);
    cr_assert(strstr(out, "parks by reason:") && strstr(out, "sleep 200"), "%s", out);
}

Test(tools, monitor_reports_a_spinning_gthread_once)
{
    /* cooperative: preempted, a spin is no stall */
    int st = SH("%s run --preempt 0 --monitor 100 %s spin 2>&1", h_path("gpatch"), h_path("build/progs/misbehave"));
    cr_assert_eq(st, 0, "%s", out);
    char *hit = strstr(out, "has not returned to its loop");
    cr_assert(hit, "no report: %s", out);
    cr_assert(strstr(out, "green thread 2 is running (last hooked call: none)"), "%s", out);
    cr_assert_null(strstr(hit + 1, "has not returned to its loop"), "reported twice: %s", out);
    cr_assert(strstr(out, "misbehave("), "a backtrace of the program: %s", out);
}

Test(tools, monitor_reports_an_unhooked_blocking_call)
{
    int st = SH("%s run --monitor 100 %s unhooked 2>&1", h_path("gpatch"), h_path("build/progs/misbehave"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "has not returned to its loop"), "%s", out);
}

Test(tools, monitor_quiet_when_nothing_stalls)
{
    /* a generous threshold: on a loaded 2-core machine, making 200 threads
     * (stacks, TLS blocks) keeps the worker away for tens of ms, honestly */
    int st = SH("%s run --monitor 1000 %s 2>&1", h_path("gpatch"), h_path("build/progs/cxx_threads"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_null(strstr(out, "monitor:"), "%s", out);
}

Test(tools, stack_overflow_is_named_and_dies_as_stock)
{
    int stock = SH("%s overflow 2>&1", h_path("build/progs/misbehave"));
    int gp = SH("%s run %s overflow 2>&1", h_path("gpatch"), h_path("build/progs/misbehave"));
    cr_assert_eq(stock, 128 + SIGSEGV, "stock: %d", stock);
    cr_assert_eq(gp, stock, "under gpatch: %d\n%s", gp, out);
    cr_assert(strstr(out, "green thread 2 overflowed its 64 KiB stack; raise GPATCH_STACK_SIZE"), "%s", out);
}

Test(tools, bad_option_values_are_refused)
{
    cr_assert_eq(SH("%s run --monitor abc true 2>&1", h_path("gpatch")), 2, "%s", out);
    cr_assert(strstr(out, "not a positive number"), "%s", out);
    cr_assert_eq(SH("%s run --monitor 2>&1", h_path("gpatch")), 2, "%s", out);
    cr_assert_eq(SH("%s run --stack-size 0x 2>&1 true", h_path("gpatch")), 2, "%s", out);
}

Test(tools, debug_traces_every_managed_call)
{
    int st = SH("%s run --debug %s 2>&1", h_path("gpatch"), h_path("build/progs/close_wait"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "calls read"), "%s", out);
    cr_assert(strstr(out, "parks: fd"), "%s", out);
    cr_assert(strstr(out, "gthread 1 created"), "%s", out);
}

Test(tools, bad_settings_in_the_environment_are_named)
{
    int st = SH("GPATCH_MONITOR_MS=soon GPATCH_STACK_SIZE=tiny LD_PRELOAD=%s %s 2>&1", h_path("build/libgpatch.so"),
                h_path("build/progs/close_wait"));
    cr_assert_eq(st, 0, "the program still runs: %s", out);
    cr_assert(strstr(out, "GPATCH_MONITOR_MS must be a positive number"), "%s", out);
    cr_assert(strstr(out, "GPATCH_STACK_SIZE must be a size"), "%s", out);
}

/* the table comes from the library's exports: every green or pool line names
 * a function libgpatch.so exports, every blocks line one it does not (but
 * stdio's writes, exported for streams held with flockfile and blocking still) */
Test(tools, check_agrees_with_the_library_exports)
{
    int st = SH("%s check /usr/bin/memcached", h_path("gpatch"));
    cr_assert(st == 0 || st == 1, "%d: %s", st, out);
    cr_assert(strstr(out, "green   sendfile "), "sendfile is rerouted, not blocking: %s", out);
    cr_assert(!strstr(out, "blocks  sendfile"), "%s", out);
    static char report[65536];
    snprintf(report, sizeof report, "%s", out);
    int lines = 0;
    for (char *l = strtok(report, "\n"); l; l = strtok(NULL, "\n")) {
        char kind[16], fn[128];
        if (sscanf(l, " %15s %127s", kind, fn) != 2) continue;
        int green = !strcmp(kind, "green") || !strcmp(kind, "pool");
        if (!green && strcmp(kind, "blocks")) continue;
        lines++;
        int exported = SH("readelf --dyn-syms -W %s | awk '$7 != \"UND\" && $4 == \"FUNC\" {sub(/@.*/, \"\", $8); print $8}' "
                          "| grep -qx '%s'", h_path("build/libgpatch.so"), fn) == 0;
        /* stdio's writes are exported to wait for a stream another green thread
         * holds with flockfile (runtime/stdio.c), not rerouted: they still block */
        char padded[136];
        snprintf(padded, sizeof padded, " %s ", fn);
        if (!green && strstr(" fwrite fputs fputc putc puts fflush ", padded))
            continue;
        cr_assert_eq(exported, green, "gpatch check says %s %s, but the library %s it", kind, fn,
                     exported ? "exports" : "does not export");
    }
    cr_assert_gt(lines, 20, "too few functions listed");
}

/* io_uring through liburing: a program that needs a liburing.so.2 (a stand-in
 * built here, with the API's names) and imports its calls, as one linked
 * against Debian's liburing does */
Test(tools, check_warns_about_io_uring)
{
    char dir[] = "/tmp/gpatch-uring-XXXXXX";
    cr_assert(mkdtemp(dir));
    cr_assert_eq(SH("cd %s && printf 'int io_uring_submit(void *r) { return 0; }\\n"
                    "int __io_uring_get_cqe(void *r, void **c, unsigned s, unsigned w, void *m) { return 0; }\\n' > ur.c && "
                    "cc -shared -fPIC -Wl,-soname,liburing.so.2 -o liburing.so.2 ur.c && "
                    "printf 'int io_uring_submit(void *); int __io_uring_get_cqe(void *, void **, unsigned, unsigned, void *);\\n"
                    "int main(void) { return io_uring_submit(0) + __io_uring_get_cqe(0, 0, 0, 0, 0); }\\n' > main.c && "
                    "cc -o prog main.c ./liburing.so.2 -Wl,-rpath,'$ORIGIN' 2>&1", dir), 0, "%s", out);
    int st = SH("%s check %s/prog", h_path("gpatch"), dir);
    int ok = st == 1 && strstr(out, "liburing.so.2 is loaded") && strstr(out, "__io_uring_get_cqe") &&
             strstr(out, "io_uring_submit (in prog)") && strstr(out, "blocks its worker");
    static char report[sizeof out];
    memcpy(report, out, sizeof out);
    SH("rm -rf %s", dir);
    cr_assert(ok, "exit %d, no io_uring warning: %s", st, report);
}

/* --stats prints when a stop signal left at its default action (SIGTERM,
 * SIGINT after the program reset it to SIG_DFL) ends the program; the
 * program still reads SIG_DFL from sigaction and signal, and dies by the
 * same signal as stock */
Test(tools, stats_print_when_a_default_signal_stops_the_program)
{
    const char *prog = h_path("build/progs/term_default");
    const char *lib = h_path("build/libgpatch.so");
    for (int i = 0; i < 2; i++) {
        const char *sig = i ? "INT" : "TERM";
        int st = SH("d=$(mktemp -d); trap 'rm -rf $d' EXIT; "
                    "%s >$d/stock & p=$!; for i in $(seq 100); do grep -q ready $d/stock && break; sleep 0.05; done; "
                    "kill -%s $p; wait $p; echo \"stock: $?\"; "
                    "GPATCH_STATS=1 LD_PRELOAD=%s %s >$d/gp 2>$d/err & p=$!; "
                    "for i in $(seq 100); do grep -q ready $d/gp && break; sleep 0.05; done; "
                    "kill -%s $p; wait $p; echo \"gpatch: $?\"; cmp -s $d/stock $d/gp && echo same output; "
                    "grep -c 'gpatch stats' $d/err",
                    prog, sig, lib, prog, sig);
        cr_assert_eq(st, 0, "%s", out);
        const char *want = i ? "stock: 130\ngpatch: 130\n" : "stock: 143\ngpatch: 143\n";
        cr_assert(strstr(out, want), "SIG%s: the exit statuses differ:\n%s", sig, out);
        cr_assert(strstr(out, "same output\n3\n"), "SIG%s: output differs or no stats:\n%s", sig, out);
    }
}
