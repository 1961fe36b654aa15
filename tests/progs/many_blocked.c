/* many_blocked: N threads (argv[1], default 40,000), each with a 32 KiB stack
 * (pthread_attr_setstacksize), all blocked in read() at once, 1,000 to a pipe;
 * then every pipe's write end is closed and each read returns 0 (EOF).
 * Prints how many were created, blocked and released, and the process's
 * memory mappings while all were blocked (/proc/self/maps lines).
 * Stock stops at pid_max or vm.max_map_count (exit 1, and why); a green
 * thread must cost no mapping of its own to get them all. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PER_PIPE 1000

static int (*pipes)[2];
static int blocked, released, bad;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *reader(void *arg)
{
    int fd = pipes[(long)arg / PER_PIPE][0];
    pthread_mutex_lock(&mu);
    blocked++;
    pthread_mutex_unlock(&mu);
    char c;
    ssize_t r = read(fd, &c, 1);
    pthread_mutex_lock(&mu);
    if (r == 0) released++;
    else bad++;
    pthread_mutex_unlock(&mu);
    return NULL;
}

static long lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int ch;
    while (f && (ch = getc(f)) != EOF) n += ch == '\n';
    if (f) fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 40000;
    long np = (n + PER_PIPE - 1) / PER_PIPE;
    pipes = calloc((size_t)np, sizeof *pipes);
    pthread_t *ts = calloc((size_t)n, sizeof *ts);
    for (long i = 0; i < np; i++)
        if (pipe(pipes[i])) {
            perror("pipe");
            return 2;
        }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 32 * 1024);
    long made = 0;
    int err = 0;
    for (; made < n; made++)
        if ((err = pthread_create(&ts[made], &at, reader, (void *)made)) != 0) break;
    /* wait until every one made has counted itself, then a little more for
     * the last of them to be inside read() (nothing is written before the
     * close below, so an early or late one reads EOF all the same) */
    for (;;) {
        pthread_mutex_lock(&mu);
        int b = blocked;
        pthread_mutex_unlock(&mu);
        if (b == made) break;
        usleep(10000);
    }
    usleep(100000);
    long maps = lines_of("/proc/self/maps");
    for (long i = 0; i < np; i++) close(pipes[i][1]);
    for (long i = 0; i < made; i++) pthread_join(ts[i], NULL);
    printf("created %ld of %ld%s%s\n", made, n, err ? ", stopped: " : "", err ? strerror(err) : "");
    printf("blocked %d, released %d, other results %d\n", blocked, released, bad);
    printf("maps while blocked %ld\n", maps);
    return made == n && released == n && !bad ? 0 : 1;
}
