/* Own TLS: each green thread has its own thread-local storage, as a pthread
 * does. The subjects run stock (the specification) and under gpatch, with
 * own TLS (the default) and, where it must still work, GPATCH_TLS=shared. */
#include "harness.h"

TestSuite(tls, .fini = h_cleanup, .timeout = 90);

static char stock[65536], patched[65536];

static void same_as_stock(const char *prog, char *const env[])
{
    h_same_output_env(prog, env, 60, stock, patched, sizeof stock);
}

/* __thread values and errno (also through a cached &errno) survive every
 * kind of blocking call; every thread starts from the TLS image */
Test(tls, thread_variables_and_errno_are_per_thread) { same_as_stock("build/progs/tls_threads", NULL); }

/* thread_local objects constructed and destroyed once per thread; the
 * exception being handled is the thread's own while it blocks in a catch */
Test(tls, cxx_thread_local_and_exception_state) { same_as_stock("build/progs/tls_cxx", NULL); }

/* A signal handler that runs while every green thread waits runs on the
 * block the scheduler stands on then: with hand-off on (own TLS), worker 0's
 * idle one, which must be set up as a thread's (its ctype tables: toupper,
 * printf's %f). It crashed in printf before that. */
Test(tls, handler_while_all_wait_has_a_whole_thread_block)
{
    char *env[] = {"GPATCH_TLS=own", "GPATCH_WORKERS=1", NULL}; /* with two, the ending thread is on worker 1 */
    same_as_stock("build/progs/tls_idle_signal", env);
}

/* the opt-out still runs programs that do not depend on per-thread TLS */
Test(tls, shared_mode_still_runs_the_other_subjects)
{
    char *env[] = {"GPATCH_TLS=shared", NULL};
    same_as_stock("build/progs/sync_edge", env);
    same_as_stock("build/progs/blocking_calls", env);
}

/* and it is what the name says: one block for all, so the TLS subject
 * differs from stock (this is the gap own TLS closes) */
Test(tls, shared_mode_shares)
{
    char *argv[] = {h_path("build/progs/tls_threads"), NULL};
    char *env[] = {"GPATCH_TLS=shared", NULL};
    struct h_proc pr = h_spawn(argv, 1, env);
    int b = h_collect(&pr, patched, sizeof patched, 60);
    cr_assert_eq(b, 0, "%s", patched);
    cr_assert(strstr(patched, "every thread's __thread variable at its own address: no"), "%s", patched);
}

/* a bad setting gets a clear message and the default */
Test(tls, bad_setting_is_named)
{
    char *argv[] = {"/bin/sh", "-c", "exec \"$0\" 2>&1", h_path("build/progs/tls_threads"), NULL};
    char *env[] = {"GPATCH_TLS=bogus", NULL};
    struct h_proc pr = h_spawn(argv, 1, env);
    int b = h_collect(&pr, patched, sizeof patched, 60);
    cr_assert_eq(b, 0, "%s", patched);
    cr_assert(strstr(patched, "GPATCH_TLS must be 'own' or 'shared'"), "%s", patched);
    cr_assert(strstr(patched, "__thread values lost across blocking calls: 0"), "%s", patched);
}
