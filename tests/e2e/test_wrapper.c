/* The gpatch wrapper: runs commands with the library preloaded, refuses what
 * the loader would not preload into, with a message and a non-zero exit. */
#include "harness.h"

#include <sys/stat.h>

TestSuite(wrapper, .fini = h_cleanup, .timeout = 60);

static char out[16384];

Test(wrapper, help_and_version)
{
    char *help[] = {h_path("gpatch"), "--help", NULL};
    cr_assert_eq(h_run(help, 0, out, sizeof out, 10), 0);
    cr_assert(strstr(out, "usage: gpatch run"), "%s", out);
    char *ver[] = {h_path("gpatch"), "--version", NULL};
    cr_assert_eq(h_run(ver, 0, out, sizeof out, 10), 0);
    cr_assert(strncmp(out, "gpatch ", 7) == 0, "%s", out);
}

Test(wrapper, runs_with_the_library_preloaded)
{
    char *argv[] = {h_path("gpatch"), "run", "--", "bash", "-c", "echo \"$LD_PRELOAD\"", NULL};
    cr_assert_eq(h_run(argv, 0, out, sizeof out, 10), 0);
    cr_assert(strstr(out, "/build/libgpatch.so"), "%s", out);
    cr_assert(out[0] == '/', "the library path must be absolute: %s", out);
}

Test(wrapper, runs_a_threaded_program_on_one_os_thread)
{
    char *argv[] = {h_path("gpatch"), "run", h_path("build/progs/cxx_threads"), NULL};
    cr_assert_eq(h_run(argv, 0, out, sizeof out, 30), 0);
    cr_assert(strstr(out, h_workers_line("os_threads_during", "\n")), "%s", out);
}

Test(wrapper, no_inherit_keeps_children_unpatched)
{
    char *argv[] = {h_path("gpatch"), "run", "--no-inherit", "bash", "-c", "echo \"[$LD_PRELOAD]\"", NULL};
    cr_assert_eq(h_run(argv, 0, out, sizeof out, 10), 0);
    cr_assert_str_eq(out, "[]\n");
}

Test(wrapper, refuses_bad_input)
{
    char *missing[] = {h_path("gpatch"), "run", "no-such-command-xyz", NULL};
    cr_assert_eq(h_run(missing, 0, out, sizeof out, 10), 2);
    char *none[] = {h_path("gpatch"), "run", NULL};
    cr_assert_eq(h_run(none, 0, out, sizeof out, 10), 2);
    char *badopt[] = {h_path("gpatch"), "run", "--stack-size", "lots", "true", NULL};
    cr_assert_eq(h_run(badopt, 0, out, sizeof out, 10), 2);
    char *unknown[] = {h_path("gpatch"), "frobnicate", NULL};
    cr_assert_eq(h_run(unknown, 0, out, sizeof out, 10), 2);
}

Test(wrapper, refuses_static_binaries)
{
    char *argv[] = {h_path("gpatch"), "run", h_path("build/progs/static_hello"), NULL};
    cr_assert_eq(h_run(argv, 0, out, sizeof out, 10), 2);
    char *direct[] = {h_path("build/progs/static_hello"), NULL};
    cr_assert_eq(h_run(direct, 0, out, sizeof out, 10), 0, "the static subject itself must run");
}

Test(wrapper, refuses_setuid_binaries)
{
    char dir[] = "/tmp/gpatch-suid-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/true", dir);
    snprintf(cmd, sizeof cmd, "cp /bin/true %s && chmod u+s %s", path, path);
    cr_assert_eq(system(cmd), 0);
    char *argv[] = {h_path("gpatch"), "run", path, NULL};
    int st = h_run(argv, 0, out, sizeof out, 10);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    cr_assert_eq(st, 2);
}

Test(wrapper, missing_library_is_a_clear_error)
{
    char *env[] = {"GPATCH_LIB=/nonexistent/libgpatch.so", NULL};
    char *argv[] = {h_path("gpatch"), "run", "true", NULL};
    struct h_proc pr = h_spawn(argv, 0, env);
    cr_assert_eq(h_collect(&pr, out, sizeof out, 10), 2);
}
