/* io_edge — the differential subject for every core hook: happy paths and
 * bad inputs, each printed as "label: ret errno". Run stock, the output is
 * the specification; run under gpatch, it must be identical.
 *
 * A companion thread stays parked in read() for the whole run, so that under
 * gpatch every call below is a managed call (with a lone thread, gpatch
 * passes calls straight to libc). Also built with -O2 -D_FORTIFY_SOURCE=2
 * (build/progs/fortified), where reads become __read_chk and friends. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#ifndef IOV_MAX
#define IOV_MAX 1024
#endif
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void show(const char *label, long ret, int err)
{
    printf("%-40s ret=%ld errno=%s\n", label, ret, ret < 0 ? strerrorname_np(err) : "-");
    fflush(stdout);
}
#define CHECK(label, expr)             \
    do {                               \
        errno = 0;                     \
        long r_ = (long)(expr);        \
        show(label, r_, errno);        \
    } while (0)

static int companion_pipe[2];
static void *companion(void *arg)
{
    char c;
    (void)!read(companion_pipe[0], &c, 1); /* parks until the end */
    return arg;
}

static int listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 16);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return s;
}

static int closed_port(void)
{
    int p, s = listener(&p);
    close(s);
    return p;
}

struct bigw { int fd; size_t n; long got; };
static void *drain(void *arg)
{
    struct bigw *b = arg;
    char buf[65536];
    long got = 0;
    for (;;) {
        ssize_t r = read(b->fd, buf, sizeof buf);
        if (r <= 0) break;
        got += r;
    }
    b->got = got;
    return NULL;
}

static void *later_write(void *arg)
{
    int fd = (int)(long)arg;
    usleep(50000);
    (void)!write(fd, "z", 1);
    return NULL;
}

static void *self_join(void *arg)
{
    (void)arg;
    return (void *)(long)pthread_join(pthread_self(), NULL);
}

static void *quick(void *arg) { return arg; }
static void *slow(void *arg) { usleep(200000); return arg; }

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    pipe(companion_pipe);
    pthread_t comp;
    pthread_create(&comp, NULL, companion, NULL);

    int sv[2], pp[2];
    char buf[64];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(pp);

    /* ---- read / write --------------------------------------------------- */
    CHECK("read bad fd", read(-1, buf, sizeof buf));
    CHECK("read closed fd", read(1000, buf, sizeof buf));
    write(sv[1], "hello", 5);
    CHECK("read socket", read(sv[0], buf, sizeof buf));
    CHECK("read socket len 0", read(sv[0], buf, 0));
    write(sv[1], "x", 1);
    CHECK("read socket NULL buf", read(sv[0], NULL, 10));
    read(sv[0], buf, sizeof buf);
    write(pp[1], "abc", 3);
    CHECK("read pipe", read(pp[0], buf, sizeof buf));
    CHECK("read write-end of pipe", read(pp[1], buf, sizeof buf));
    CHECK("write bad fd", write(-1, "x", 1));
    CHECK("write socket NULL buf", write(sv[1], NULL, 10));
    CHECK("write read-end of pipe", write(pp[0], "x", 1));
    CHECK("write socket 0 bytes", write(sv[1], "x", 0));

    /* ---- vectors --------------------------------------------------------- */
    struct iovec iov[2] = {{buf, 3}, {buf + 3, 3}};
    CHECK("readv iovcnt -1", readv(sv[0], iov, -1));
    CHECK("readv iovcnt IOV_MAX+1", readv(sv[0], iov, IOV_MAX + 1));
    CHECK("readv iovcnt 0", readv(sv[0], iov, 0));
    CHECK("readv NULL iov", readv(sv[0], NULL, 2));
    CHECK("writev NULL iov", writev(sv[1], NULL, 2));
    CHECK("writev iovcnt -1", writev(sv[1], iov, -1));
    memcpy(buf, "abcdef", 6);
    CHECK("writev socket", writev(sv[1], iov, 2));
    CHECK("readv socket", readv(sv[0], iov, 2));
    CHECK("writev pipe", writev(pp[1], iov, 2));
    CHECK("readv pipe", readv(pp[0], iov, 2));

    /* ---- recv / send ---------------------------------------------------------- */
    CHECK("recv bad fd", recv(-1, buf, 10, 0));
    CHECK("recv on pipe", recv(pp[0], buf, 10, 0));
    CHECK("send on pipe", send(pp[1], "x", 1, 0));
    CHECK("sendto bad fd", sendto(-1, "x", 1, 0, NULL, 0));
    CHECK("sendmsg NULL msg", sendmsg(sv[1], NULL, 0));
    CHECK("recvmsg NULL msg", recvmsg(sv[0], NULL, 0));
    CHECK("send socket", send(sv[1], "ping", 4, 0));
    CHECK("recv MSG_PEEK", recv(sv[0], buf, 2, MSG_PEEK));
    CHECK("recv MSG_WAITALL", recv(sv[0], buf, 4, MSG_WAITALL));
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    send(sv[1], "pong", 4, 0);
    CHECK("recvfrom stream", recvfrom(sv[0], buf, sizeof buf, 0, (struct sockaddr *)&from, &fl));
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    sendmsg(sv[1], &mh, 0);
    CHECK("recvmsg", recvmsg(sv[0], &mh, 0));
    CHECK("recv MSG_DONTWAIT empty", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));

    /* ---- the program's own O_NONBLOCK ----------------------------------------- */
    int f0 = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, f0 | O_NONBLOCK);
    CHECK("read O_NONBLOCK (fcntl) empty", read(sv[0], buf, sizeof buf));
    CHECK("F_GETFL shows O_NONBLOCK", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) != 0);
    fcntl(sv[0], F_SETFL, f0);
    int on = 1, off = 0;
    ioctl(pp[0], FIONBIO, &on);
    CHECK("read O_NONBLOCK (FIONBIO) pipe", read(pp[0], buf, sizeof buf));
    ioctl(pp[0], FIONBIO, &off);
    int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK("connect SOCK_NONBLOCK", connect(nb, (struct sockaddr *)&(struct sockaddr_in){
                                                  .sin_family = AF_INET, .sin_port = htons(9),
                                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}, sizeof(struct sockaddr_in)) < 0 ? -1 : 0);
    close(nb);
    /* a blocking read that had to wait leaves the file as the program made it */
    pthread_t lw;
    pthread_create(&lw, NULL, later_write, (void *)(long)sv[1]);
    CHECK("read that waits", read(sv[0], buf, sizeof buf));
    pthread_join(lw, NULL);
    CHECK("F_GETFL after wait: no O_NONBLOCK", fcntl(sv[0], F_GETFL) & O_NONBLOCK);
    CHECK("F_GETFL pipe after FIONBIO off", fcntl(pp[0], F_GETFL) & O_NONBLOCK);

    /* ---- accept / connect ----------------------------------------------------- */
    int port, ls = listener(&port);
    CHECK("accept bad fd", accept(-1, NULL, NULL));
    CHECK("accept on pipe", accept(pp[0], NULL, NULL));
    int unl = socket(AF_INET, SOCK_STREAM, 0);
    CHECK("accept not listening", accept(unl, NULL, NULL));
    CHECK("connect bad fd", connect(-1, NULL, 0));
    CHECK("connect on pipe", connect(pp[0], (struct sockaddr *)&from, sizeof from));
    CHECK("connect NULL addr", connect(unl, NULL, sizeof from));
    CHECK("connect addrlen 0", connect(unl, (struct sockaddr *)&from, 0));
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((unsigned short)closed_port())};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK("connect refused", connect(unl, (struct sockaddr *)&dst, sizeof dst));
    close(unl);
    int cl = socket(AF_INET, SOCK_STREAM, 0);
    dst.sin_port = htons((unsigned short)port);
    CHECK("connect ok", connect(cl, (struct sockaddr *)&dst, sizeof dst));
    CHECK("F_GETFL after connect: no O_NONBLOCK", fcntl(cl, F_GETFL) & O_NONBLOCK);
    CHECK("connect again", connect(cl, (struct sockaddr *)&dst, sizeof dst));
    int ac = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    CHECK("accept4 SOCK_NONBLOCK flag", (fcntl(ac, F_GETFL) & O_NONBLOCK) != 0);
    CHECK("read accepted nonblock empty", read(ac, buf, sizeof buf));
    fcntl(ls, F_SETFL, O_NONBLOCK);
    CHECK("accept nonblocking listener", accept(ls, NULL, NULL));

    /* ---- timeouts ----------------------------------------------------------------- */
    struct timeval tv = {0, 100000};
    setsockopt(cl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK("read SO_RCVTIMEO", read(cl, buf, sizeof buf));
    CHECK("recv SO_RCVTIMEO", recv(cl, buf, sizeof buf, 0));
    int sndbuf = 4096;
    setsockopt(cl, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    setsockopt(cl, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static char big[8 << 20];
    long wr = write(cl, big, sizeof big);
    int werr = errno;
    show("write SO_SNDTIMEO partial (>0)", wr > 0 && wr < (long)sizeof big ? 1 : wr, werr);
    close(ac);
    close(cl);

    /* ---- a big blocking write moves everything --------------------------------- */
    int bw[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, bw);
    struct bigw b = {bw[0], sizeof big, 0};
    pthread_t dr;
    pthread_create(&dr, NULL, drain, &b);
    CHECK("write 8 MiB blocking", write(bw[1], big, sizeof big));
    struct iovec biov[2] = {{big, sizeof big / 2}, {big, sizeof big / 2}};
    CHECK("writev 8 MiB blocking", writev(bw[1], biov, 2));
    CHECK("send 8 MiB blocking", send(bw[1], big, sizeof big, 0));
    close(bw[1]);
    pthread_join(dr, NULL);
    CHECK("reader got all of it", b.got);
    close(bw[0]);
    int pw[2];
    pipe(pw);
    b.fd = pw[0];
    pthread_create(&dr, NULL, drain, &b);
    CHECK("write 8 MiB to a pipe", write(pw[1], big, sizeof big));
    close(pw[1]);
    pthread_join(dr, NULL);
    CHECK("pipe reader got all of it", b.got);
    close(pw[0]);
    int dead[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, dead);
    close(dead[0]);
    CHECK("write to closed peer (EPIPE)", write(dead[1], "x", 1));
    close(dead[1]);

    /* ---- poll / select ----------------------------------------------------------- */
    CHECK("poll NULL fds", poll(NULL, 1, 10));
    CHECK("poll nfds huge", poll((struct pollfd *)buf, 1u << 30, 10));
    struct pollfd pf[2] = {{-1, POLLIN, 0}, {1000, POLLIN, 0}};
    CHECK("poll bad fd -> POLLNVAL", poll(pf, 2, 10));
    CHECK("  revents[1]", pf[1].revents);
    struct pollfd pe = {sv[0], POLLIN, 0};
    CHECK("poll timeout", poll(&pe, 1, 50));
    write(sv[1], "q", 1);
    CHECK("poll ready", poll(&pe, 1, 1000));
    CHECK("  revents", pe.revents);
    read(sv[0], buf, 1);
    pthread_create(&lw, NULL, later_write, (void *)(long)sv[1]);
    CHECK("poll waits for data", poll(&pe, 1, 5000));
    pthread_join(lw, NULL);
    read(sv[0], buf, 1);
    struct timespec pts = {0, 20000000};
    CHECK("ppoll timeout", ppoll(&pe, 1, &pts, NULL));
    pts.tv_nsec = -1;
    CHECK("ppoll bad timeout", ppoll(&pe, 1, &pts, NULL));
    fd_set rs;
    FD_ZERO(&rs);
    CHECK("select nfds -1", select(-1, &rs, NULL, NULL, NULL));
    FD_SET(1000 < FD_SETSIZE ? 1000 : 5, &rs);
    struct timeval st = {0, 10000};
    CHECK("select bad fd", select(1001, &rs, NULL, NULL, &st));
    FD_ZERO(&rs);
    FD_SET(sv[0], &rs);
    st = (struct timeval){0, 30000};
    CHECK("select timeout", select(sv[0] + 1, &rs, NULL, NULL, &st));
    CHECK("  timeout left", st.tv_sec * 1000000 + st.tv_usec);
    CHECK("  set cleared", FD_ISSET(sv[0], &rs));
    st = (struct timeval){-1, 0};
    CHECK("select negative timeout", select(sv[0] + 1, &rs, NULL, NULL, &st));
    FD_ZERO(&rs);
    FD_SET(sv[0], &rs);
    pthread_create(&lw, NULL, later_write, (void *)(long)sv[1]);
    st = (struct timeval){5, 0};
    CHECK("select waits for data", select(sv[0] + 1, &rs, NULL, NULL, &st));
    CHECK("  set", FD_ISSET(sv[0], &rs));
    pthread_join(lw, NULL);
    read(sv[0], buf, 1);
    struct timespec pst = {0, 20000000};
    FD_ZERO(&rs);
    FD_SET(sv[0], &rs);
    CHECK("pselect timeout", pselect(sv[0] + 1, &rs, NULL, NULL, &pst, NULL));

    /* ---- sleeping ----------------------------------------------------------------- */
    CHECK("sleep 0", sleep(0));
    CHECK("usleep 1000", usleep(1000));
    struct timespec ts = {0, 1000000}, rem;
    CHECK("nanosleep 1 ms", nanosleep(&ts, &rem));
    CHECK("nanosleep NULL", nanosleep(NULL, &rem));
    ts.tv_nsec = 1000000000;
    CHECK("nanosleep nsec 1e9", nanosleep(&ts, &rem));
    ts = (struct timespec){-1, 0};
    CHECK("nanosleep negative", nanosleep(&ts, &rem));
    ts = (struct timespec){0, 1000000};
    CHECK("clock_nanosleep MONOTONIC", clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL));
    CHECK("clock_nanosleep REALTIME", clock_nanosleep(CLOCK_REALTIME, 0, &ts, NULL));
    CHECK("clock_nanosleep BOOTTIME", clock_nanosleep(CLOCK_BOOTTIME, 0, &ts, NULL));
    CHECK("clock_nanosleep THREAD_CPUTIME", clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ts, NULL));
    CHECK("clock_nanosleep bad clock", clock_nanosleep(12345, 0, &ts, NULL));
    CHECK("clock_nanosleep NULL", clock_nanosleep(CLOCK_MONOTONIC, 0, NULL, NULL));
    ts.tv_nsec = -5;
    CHECK("clock_nanosleep bad nsec", clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL));
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_sec -= 1;
    CHECK("clock_nanosleep ABSTIME past", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now, NULL));
    clock_gettime(CLOCK_REALTIME, &now);
    now.tv_nsec += 20000000;
    if (now.tv_nsec >= 1000000000) now.tv_sec++, now.tv_nsec -= 1000000000;
    CHECK("clock_nanosleep REALTIME ABSTIME", clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &now, NULL));
    clock_gettime(CLOCK_MONOTONIC, &now);
    now.tv_nsec += 20000000;
    if (now.tv_nsec >= 1000000000) now.tv_sec++, now.tv_nsec -= 1000000000;
    CHECK("clock_nanosleep MONOTONIC ABSTIME", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &now, NULL));
    CHECK("sched_yield", sched_yield());

    /* ---- threads ------------------------------------------------------------------ */
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, self_join, NULL);
    pthread_join(t, &ret);
    show("pthread_join self", (long)ret, 0);
    CHECK("pthread_join main from main", pthread_join(pthread_self(), NULL));
    pthread_create(&t, NULL, quick, (void *)42L);
    CHECK("pthread_join", pthread_join(t, &ret));
    CHECK("  returned", (long)ret);
    pthread_create(&t, NULL, slow, NULL);
    CHECK("pthread_tryjoin_np running", pthread_tryjoin_np(t, NULL));
    struct timespec abst;
    clock_gettime(CLOCK_REALTIME, &abst);
    CHECK("pthread_timedjoin_np past", pthread_timedjoin_np(t, NULL, &abst));
    CHECK("pthread_kill sig 0", pthread_kill(t, 0));
    CHECK("pthread_kill bad sig", pthread_kill(t, 12345));
    CHECK("pthread_equal self", pthread_equal(t, t));
    CHECK("pthread_equal other", pthread_equal(t, pthread_self()));
    CHECK("pthread_setname_np too long", pthread_setname_np(t, "a-name-that-is-too-long"));
    CHECK("pthread_setname_np", pthread_setname_np(t, "worker-1"));
    char nm[32];
    CHECK("pthread_getname_np small buf", pthread_getname_np(t, nm, 4));
    CHECK("pthread_getname_np", pthread_getname_np(t, nm, sizeof nm));
    printf("  name=%s\n", nm);
    CHECK("pthread_detach", pthread_detach(t));
    CHECK("pthread_detach again", pthread_detach(t));
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256 * 1024);
    pthread_create(&t, &at, slow, NULL);
    pthread_attr_t got;
    size_t gsz = 0;
    CHECK("pthread_getattr_np", pthread_getattr_np(t, &got));
    pthread_attr_getstacksize(&got, &gsz);
    CHECK("  stack size >= requested", gsz >= 256 * 1024);
    pthread_attr_destroy(&got);
    CHECK("pthread_join 256k thread", pthread_join(t, NULL));
    pthread_attr_destroy(&at);

    close(companion_pipe[1]);
    pthread_join(comp, NULL);
    CHECK("companion joined", 0);
    return 0;
}
