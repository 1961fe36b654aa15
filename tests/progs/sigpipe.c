/* sigpipe — a write to a socket whose peer is gone, with SIGPIPE's default
 * action: the process dies of SIGPIPE, as stock. */
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static void *idle(void *arg) { sleep(5); return arg; }

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL); /* so the write is a managed call */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[0]);
    puts("writing");
    fflush(stdout);
    (void)!write(sv[1], "x", 1);
    puts("survived");
    return 0;
}
