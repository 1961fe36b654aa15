/* Servers from Debian, unmodified, under gpatch, loaded by their own
 * benchmark clients (never preloaded): memcached (libevent, worker threads)
 * and redis-server (event loop plus background threads). Results are checked
 * with a plain set/get, the threads in /proc. */
#include "harness.h"

#include <dirent.h>

TestSuite(debian_servers, .fini = h_cleanup, .timeout = 120);

static char out[65536];

static int sh(const char *cmd)
{
    char *argv[] = {"bash", "-c", (char *)cmd, NULL};
    struct h_proc pr = h_spawn(argv, 0, NULL);
    return h_collect(&pr, out, sizeof out, 100);
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static void wait_listening(int port)
{
    for (int i = 0; i < 100; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok) return;
        usleep(50000);
    }
    cr_assert_fail("nothing listens on %d", port);
}

Test(debian_servers, memcached_with_memcslap)
{
    int port = free_port();
    char ps[16], cmd[512];
    snprintf(ps, sizeof ps, "%d", port);
    char *argv[] = {"memcached", "-u", "root", "-l", "127.0.0.1", "-p", ps, "-t", "4", NULL};
    struct h_proc mc = h_spawn(argv, 1, NULL);
    wait_listening(port);
    snprintf(cmd, sizeof cmd, "memcslap --servers=127.0.0.1:%d --concurrency=50 --execute-number=1000 2>&1 && "
             "memcslap --servers=127.0.0.1:%d --concurrency=50 --execute-number=1000 --test=get 2>&1", port, port);
    cr_assert_eq(sh(cmd), 0, "%s", out);
    cr_assert(strstr(out, "Time to set"), "%s", out);
    snprintf(cmd, sizeof cmd, "exec 3<>/dev/tcp/127.0.0.1/%d; printf 'set gpk 0 0 5\\r\\nhello\\r\\nget gpk\\r\\nquit\\r\\n' >&3; cat <&3", port);
    cr_assert_eq(sh(cmd), 0);
    cr_assert(strstr(out, "STORED\r\nVALUE gpk 0 5\r\nhello\r\nEND"), "%s", out);
    long th = h_program_threads(mc.pid);
    cr_assert(th >= 1 && th <= 2 + h_workers(), "memcached's 4 workers + its helpers should be green threads: %ld OS threads", th);
}

Test(debian_servers, redis_with_redis_benchmark)
{
    int port = free_port();
    char ps[16], cmd[512];
    snprintf(ps, sizeof ps, "%d", port);
    char *argv[] = {"redis-server", "--port", ps, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", NULL};
    struct h_proc rd = h_spawn(argv, 1, NULL);
    wait_listening(port);
    snprintf(cmd, sizeof cmd, "redis-benchmark -p %d -q -n 20000 -c 50 -t set,get,incr,lpush,lpop 2>&1 | tr '\\r' '\\n' | grep -c 'requests per second'", port);
    cr_assert_eq(sh(cmd), 0, "%s", out);
    cr_assert_eq(atoi(out), 5, "%s", out);
    snprintf(cmd, sizeof cmd, "redis-cli -p %d set gpk hello && redis-cli -p %d incrby gpc 41 && redis-cli -p %d incr gpc && redis-cli -p %d get gpk", port, port, port, port);
    cr_assert_eq(sh(cmd), 0, "%s", out);
    cr_assert_str_eq(out, "OK\n41\n42\nhello\n");
    /* stock: 5 OS threads (main, the bio threads bio_close_file,
     * bio_aof_fsync and bio_lazy_free, and jemalloc's jemalloc_bg_thd); under
     * gpatch the bio threads are green (no task of theirs), and what is left
     * is the workers (maybe a pool helper) and jemalloc's background threads,
     * which jemalloc starts past our hook: one per arena it uses, and a green
     * thread that moved to another worker (stealing) can make it use one more */
    int bio = 0, others = 0, jemalloc = 0, ours = 0;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)rd.pid);
    DIR *d = opendir(dir);
    cr_assert(d, "%s", dir);
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char path[336], comm[32] = "";
        snprintf(path, sizeof path, "%s/%s/comm", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "bio_", 4) == 0) bio++;
        else if (strncmp(comm, "jemalloc_bg_thd", 15) == 0) jemalloc++;
        else if (strncmp(comm, "gpatch-", 7) == 0) ours++; /* hand-off's monitor and carriers (README) */
        else others++;
    }
    closedir(d);
    cr_assert_eq(bio, 0, "redis's bio threads should be green threads: %d of them are OS threads", bio);
    cr_assert(others >= 1 && others <= 1 + h_workers(),
              "redis under gpatch should run on its workers (and maybe a pool helper): %d OS threads besides "
              "jemalloc's %d and gpatch's hand-off threads %d", others, jemalloc, ours);
}
