/* fortified — built with -O2 -D_FORTIFY_SOURCE=2 (see Makefile), so its
 * reads are __read_chk, __recv_chk, __recvfrom_chk and __poll_chk, as in
 * most of Debian's binaries. A second thread keeps the calls managed under
 * gpatch; each result is printed for the stock-vs-gpatch comparison. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2];
static volatile size_t n_read = 5; /* sizes unknown at compile time */

static void *writer(void *arg)
{
    const char *msgs[] = {"hello", "world", "again", "final"};
    for (int i = 0; i < 4; i++) {
        usleep(20000); /* the reader parks first */
        (void)!write(sv[1], msgs[i], 5);
    }
    return arg;
}

int main(void)
{
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pthread_t t;
    pthread_create(&t, NULL, writer, NULL);
    char buf[16];
    struct pollfd p = {sv[0], POLLIN, 0};
    int r = poll(&p, (nfds_t)(n_read / 5), 5000);
    printf("poll %d revents %d\n", r, p.revents);
    ssize_t n = read(sv[0], buf, n_read);
    printf("read %zd %.5s\n", n, buf);
    n = recv(sv[0], buf, n_read, 0);
    printf("recv %zd %.5s\n", n, buf);
    n = recvfrom(sv[0], buf, n_read, 0, NULL, NULL);
    printf("recvfrom %zd %.5s\n", n, buf);
    n = read(sv[0], buf, n_read);
    printf("read %zd %.5s\n", n, buf);
    errno = 0;
    n = read(-1, buf, n_read);
    printf("read bad fd %zd %s\n", n, strerror(errno));
    pthread_join(t, NULL);
    return 0;
}
