/* Green thread stacks: carved out of arenas, so that a green thread costs no
 * memory mapping of its own (more threads than vm.max_map_count / 2), with
 * an overflow still caught: guard pages while the map budget allows, a
 * canary checked at every switch beyond it (GPATCH_STACK_GUARD=canary forces
 * it for these tests). */
#include "harness.h"

TestSuite(stacks, .fini = h_cleanup, .timeout = 180);

static char out[65536];

static int sh(const char *cmd, int timeout_s)
{
    char *argv[] = {"bash", "-c", (char *)cmd, NULL};
    char *env[] = {NULL};
    struct h_proc pr = h_spawn(argv, 0, env);
    return h_collect(&pr, out, sizeof out, timeout_s);
}

static char cmd[2048];
#define SH(t, ...) (snprintf(cmd, sizeof cmd, __VA_ARGS__), sh(cmd, t))

static long number_after(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    return p ? atol(p + strlen(key)) : -1;
}

/* 40,000 threads blocked in read() at once: more than vm.max_map_count (65,530
 * by default) allows at two maps a thread (the library before arenas
 * stopped at 32,747). Stock is not run: it stops at pid_max, and would take
 * the machine's pids from everyone else meanwhile. */
Test(stacks, forty_thousand_blocked_in_read)
{
    int st = SH(150, "%s run %s 40000 2>&1", h_path("gpatch"), h_path("build/progs/many_blocked"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "created 40000 of 40000\n"), "%s", out);
    cr_assert(strstr(out, "blocked 40000, released 40000, other results 0\n"), "%s", out);
}

/* in canary mode a thread costs no map at all, whatever the sysctl says */
Test(stacks, canary_mode_costs_no_map_per_thread)
{
    int st = SH(150, "GPATCH_STACK_GUARD=canary GPATCH_STATS=1 %s run %s 20000 2>&1", h_path("gpatch"),
                h_path("build/progs/many_blocked"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "blocked 20000, released 20000, other results 0\n"), "%s", out);
    long maps = number_after(out, "maps while blocked ");
    cr_assert(maps > 0 && maps < 1000, "20,000 threads, %ld maps\n%s", maps, out);
    cr_assert(strstr(out, "stacks (GPATCH_STACK_GUARD=canary): 0 with a guard page"), "%s", out);
    cr_assert(strstr(out, "20000 with a canary"), "%s", out);
    /* a pipe's close wakes its 1,000 readers, each reads the end of file once:
     * about one park in read() each (a read that returned 0 used to mark the
     * pipe drained, and every later reader parked again: 10 million parks) */
    long parks = number_after(out, " fd ");
    cr_assert(parks >= 20000 && parks <= 21000, "fd parks %ld\n%s", parks, out);
}

/* the stats line says which mode a run is in (auto: guards first) */
Test(stacks, stats_name_the_mode)
{
    int st = SH(60, "GPATCH_STATS=1 %s run %s 2000 2>&1", h_path("gpatch"), h_path("build/progs/many_blocked"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "stacks (GPATCH_STACK_GUARD=auto): 2000 with a guard page"), "%s", out);
    st = SH(60, "GPATCH_STACK_GUARD=guard %s run --debug %s 10 2>&1", h_path("gpatch"), h_path("build/progs/many_blocked"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "stacks: GPATCH_STACK_GUARD=guard: a guard page under every stack"), "%s", out);
    st = SH(60, "GPATCH_STACK_GUARD=sometimes %s run %s 10 2>&1", h_path("gpatch"), h_path("build/progs/many_blocked"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "GPATCH_STACK_GUARD must be 'auto', 'guard' or 'canary'"), "%s", out);
}

/* the deep recursion runs through the slots below to the arena's bottom:
 * named as an overflow, and the process dies of SIGSEGV as stock */
Test(stacks, runaway_overflow_in_canary_mode_is_named_and_dies_as_stock)
{
    int stock = SH(40, "%s overflow 2>&1", h_path("build/progs/misbehave"));
    int gp = SH(40, "GPATCH_STACK_GUARD=canary %s run %s overflow 2>&1", h_path("gpatch"), h_path("build/progs/misbehave"));
    cr_assert_eq(stock, 128 + SIGSEGV, "stock: %d", stock);
    cr_assert_eq(gp, stock, "under gpatch: %d\n%s", gp, out);
    cr_assert(strstr(out, "green thread 2 overflowed its 64 KiB stack; raise GPATCH_STACK_SIZE"), "%s", out);
}

/* 6 KiB below its stack, then a sleep: a guard page faults (as stock), a
 * canary is found broken at the sleep's switch (named, then abort) */
Test(stacks, overflow_then_switch_both_modes)
{
    int stock = SH(40, "%s 2>&1", h_path("build/progs/overflow_switch"));
    cr_assert_eq(stock, 128 + SIGSEGV, "stock: %d\n%s", stock, out);
    int gp = SH(40, "%s run %s 2>&1", h_path("gpatch"), h_path("build/progs/overflow_switch"));
    cr_assert_eq(gp, stock, "guard page: %d\n%s", gp, out);
    cr_assert(strstr(out, "green thread 1 overflowed its 64 KiB stack; raise GPATCH_STACK_SIZE"), "%s", out);
    gp = SH(40, "GPATCH_STACK_GUARD=canary %s run %s 2>&1", h_path("gpatch"), h_path("build/progs/overflow_switch"));
    cr_assert_eq(gp, 128 + SIGABRT, "canary: %d\n%s", gp, out);
    cr_assert(strstr(out, "green thread 1 overflowed its 64 KiB stack; raise GPATCH_STACK_SIZE"), "%s", out);
    cr_assert(strstr(out, "the canary under its stack was overwritten"), "%s", out);
    cr_assert_null(strstr(out, "not reached"), "%s", out);
}

/* threads come and go in waves: the stacks of exited ones are reused or
 * given back, RSS does not grow (both modes, against stock) */
Test(stacks, churn_does_not_grow_rss)
{
    const char *other = getenv("GPATCH_TEST_PRELOAD");
    if (other && *other) /* `make test-asan`: RSS there is mostly the sanitizer's heap quarantine */
        cr_skip("RSS under GPATCH_TEST_PRELOAD (a sanitizer) measures the sanitizer, not the stacks");
    static char stock[4096], patched[4096];
    h_same_output("build/progs/stack_churn", 120, stock, patched, sizeof stock);
    cr_assert(strstr(patched, ": 0 MiB"), "%s", patched);
    int st = SH(120, "GPATCH_STACK_GUARD=canary %s run %s 2>&1", h_path("gpatch"), h_path("build/progs/stack_churn"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, ": 0 MiB"), "%s", out);
}

/* stack sizes and refusals (64 TiB, RLIMIT_AS) answer as stock in canary mode too */
Test(stacks, fault_stack_in_canary_mode)
{
    static char stock[8192];
    char *argv[] = {h_path("build/progs/fault_stack"), NULL};
    int s = h_run(argv, 0, stock, sizeof stock, 60);
    cr_assert_eq(s, 0, "%s", stock);
    int st = SH(60, "GPATCH_STACK_GUARD=canary %s run %s", h_path("gpatch"), h_path("build/progs/fault_stack"));
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, stock);
}
