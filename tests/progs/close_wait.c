/* close_wait — main closes a socket another thread is blocked reading.
 * Under gpatch the reader wakes with EBADF before the real close (the issue's
 * contract); stock Linux leaves it blocked until data comes, which main
 * then sends so both runs end. Prints what the reader got. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2];
static void *reader(void *arg)
{
    char c;
    ssize_t r = read(sv[0], &c, 1);
    printf("reader: ret=%zd errno=%s\n", r, r < 0 ? strerrorname_np(errno) : "-");
    fflush(stdout);
    return arg;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* under gpatch the peer is gone for real */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_t t;
    pthread_create(&t, NULL, reader, NULL);
    usleep(100000);
    close(sv[0]);
    usleep(100000);
    (void)!write(sv[1], "x", 1);
    pthread_join(t, NULL);
    /* dup2 over a socket another thread is blocked reading */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_create(&t, NULL, reader, NULL);
    usleep(100000);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, sv[0]);
    usleep(100000);
    (void)!write(sv[1], "y", 1);
    pthread_join(t, NULL);
    puts("done");
    return 0;
}
