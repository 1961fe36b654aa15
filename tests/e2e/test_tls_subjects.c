/* Own TLS, the rest of the subjects: libraries dlopen'd while green
 * threads exist (global-dynamic and initial-exec TLS), what glibc and
 * compiled code read through the thread pointer (sched_getcpu,
 * pthread_getattr_np, -fstack-protector-all, setjmp/longjmp), and a stream
 * held with flockfile across blocking calls. Each runs stock (the
 * specification), then under gpatch with own TLS forced, and in the default
 * mode (own where wrfsbase exists; without it, as on the 2-core VM, own for
 * tls_dlopen, which has a __thread variable of its own, and shared for
 * tls_sys and tls_stdio, which have none), and where it must hold there too,
 * with shared TLS. */
#include "harness.h"

TestSuite(tls_subjects, .fini = h_cleanup, .timeout = 120);

static char stock[65536], patched[65536];

static void same_as_stock(const char *prog, char *const env[])
{
    h_same_output_env(prog, env, 60, stock, patched, sizeof stock);
}

static char *own[] = {"GPATCH_TLS=own", NULL};
static char *shared[] = {"GPATCH_TLS=shared", NULL};
static char *dflt[] = {"GPATCH_TLS=", NULL};

/* dlopen'd by a green thread while 15 others wait: every green thread, old
 * and new, finds each library's TLS image in its own copy and keeps what it
 * wrote there across blocking calls (the initial-exec build's image is
 * copied by gp_dlopen into the blocks of the green threads that existed) */
Test(tls_subjects, dlopen_gd_and_ie_tls)
{
    same_as_stock("build/progs/tls_dlopen", own);
    same_as_stock("build/progs/tls_dlopen", dflt);
}

/* the same, the libraries named without a directory and found along
 * LD_LIBRARY_PATH: glibc searches for the caller, the main program (which has
 * no RUNPATH), exactly as for gpatch's dlopen, which then copies the image */
Test(tls_subjects, dlopen_by_name_from_the_program)
{
    char lp[4200];
    snprintf(lp, sizeof lp, "LD_LIBRARY_PATH=%s", h_path("build/progs"));
    char *argv[] = {h_path("build/progs/tls_dlopen"), "bare", NULL};
    char *env_stock[] = {lp, NULL}, *env_own[] = {lp, "GPATCH_TLS=own", NULL};
    struct h_proc ps = h_spawn(argv, 0, env_stock);
    int a = h_collect(&ps, stock, sizeof stock, 60);
    struct h_proc pg = h_spawn(argv, 1, env_own);
    int b = h_collect(&pg, patched, sizeof patched, 60);
    cr_assert_eq(a, 0, "stock exited %d:\n%s", a, stock);
    cr_assert_eq(b, 0, "under gpatch exited %d:\n%s", b, patched);
    cr_assert(strstr(stock, "libtls_ie.so: threads that did not start from the TLS image: 0"), "%s", stock);
    cr_assert_str_eq(patched, stock, "differs.\n--- stock:\n%s\n--- gpatch:\n%s", stock, patched);
}

/* shared TLS is one block for all: the libraries' data is shared too (the
 * mode's documented limit), visibly */
Test(tls_subjects, dlopen_with_shared_tls_shares)
{
    char *argv[] = {h_path("build/progs/tls_dlopen"), NULL};
    struct h_proc pr = h_spawn(argv, 1, shared);
    int b = h_collect(&pr, patched, sizeof patched, 60);
    cr_assert_eq(b, 0, "%s", patched);
    cr_assert(strstr(patched, "libtls_ie.so: every thread's copy at its own address: no"), "%s", patched);
}

/* sched_getcpu, pthread_getattr_np, canaries, setjmp/longjmp across parks */
Test(tls_subjects, thread_pointer_fields)
{
    same_as_stock("build/progs/tls_sys", own);
    same_as_stock("build/progs/tls_sys", dflt);
    same_as_stock("build/progs/tls_sys", shared);
}

/* flockfile held across a pipe round trip and sleeps while others printf: no
 * line is torn (shared TLS interleaved them; own TLS deadlocked the worker in
 * glibc's lock before the streams' gates) */
Test(tls_subjects, flockfile_across_blocking_calls)
{
    same_as_stock("build/progs/tls_stdio", own);
    same_as_stock("build/progs/tls_stdio", dflt);
    same_as_stock("build/progs/tls_stdio", shared);
}
