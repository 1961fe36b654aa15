/* fdtable.c — per fd: what kind of file it is, one uv_poll_t, its waiters;
 * and the I/O loop every blocking call on an fd goes through.
 *
 * Kinds are decided lazily, on the first blocking use of an fd number (fstat),
 * so fds opened before we started or inherited from a parent count too:
 *   SOCK      sockets: each attempt is non-blocking per call (MSG_DONTWAIT);
 *   RWF       pipes, FIFOs, terminals: preadv2/pwritev2(RWF_NOWAIT); a kernel
 *             or file that refuses it (EOPNOTSUPP) drops to POLLFIRST;
 *   POLLFIRST eventfd, timerfd and other anon inodes: a zero-timeout poll,
 *             then the plain call;
 *   PASS      regular files, directories, other devices: the plain call.
 * The runtime never sets O_NONBLOCK on a program's file (invariant 3), so the
 * program's own view of the flag is the real one; on EAGAIN we ask it.
 *
 * One uv_poll_t per fd number, initialised once and kept: libuv binds it to
 * the number, not to the open file, so after close() (which stops it before
 * the real close) it serves the next file with that number. While a waiter
 * is likely to come back the watcher stays started, so steady keep-alive
 * traffic pays no epoll_ctl; an event that finds nobody waiting stops it.
 * Waiter records live on the waiting gthread's stack.
 *
 * The table is the worker's: only it reads or changes an entry. An OS thread
 * that is not the worker (a SIGEV_THREAD timer callback, a helper, any
 * thread the program made before we started) may close, dup2 or create fds
 * too; it never touches the table. It queues the fd number (`foreign`,
 * under its lock) and the worker forgets what it knew of that number
 * before its next use of the table (drain_foreign, at every I/O and poll,
 * and from the queue's async wake-up for gthreads already parked). Before
 * a close or dup2 replaces the file under a number the worker may be
 * watching, that thread also removes the number from the worker's epoll
 * set itself: epoll forgets a registration only when the open file's last
 * reference goes, so a file that lives on elsewhere would keep reporting
 * under that number, and once the number names another file no EPOLL_CTL_DEL
 * can reach the old registration any more.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "real.h"

enum { K_UNKNOWN, K_SOCK, K_RWF, K_POLLFIRST, K_PASS };

struct fdent {
    uv_poll_t poll;
    uv_loop_t *loop;   /* the loop poll was initialised on, NULL if never */
    int fd, kind, stream;
    int drainable;     /* a short read empties it: stream sockets, pipes and FIFOs (not terminals) */
    int polling;       /* events the watcher is started with, 0 stopped */
    struct gp_list waiters;
    /* what a wait needs to know, read once (fcntl, getsockopt) and kept until
     * the program changes it through a hooked call (gp_fd_flags_changed) */
    int known, nonblock;
    int flags;         /* its file status flags (F_GETFL), when known */
    int64_t rcvtimeo, sndtimeo; /* ns, 0 none */
    /* the last read found it drained (drainable ones), and the watcher (started for
     * reading) has not said otherwise since: a read may park without trying */
    int drained;
    int accepting;     /* a listening socket (SO_ACCEPTCONN seen; a listener stays one) */
    int waits;         /* the directions (GP_IN, GP_OUT) in which the kernel may make a call
                        * on it wait; the others go to the kernel at once (anon inodes) */
    dev_t dev;         /* the file classify saw (drain_foreign's check after an overflow; 0, 0 unknown) */
    ino_t ino;
};

struct waiter {
    struct gp_list link;
    struct gp_gthread *g;
    int events;
};

#define WCHUNK 4096
#define WCHUNKS 1024
#define FOREIGN_MAX 4096
#define HANDLER_SLOTS 64

/* A worker's table. With several workers (GPATCH_WORKERS) each has its own,
 * for the gthreads it runs, and its own watchers in its own epoll set (the
 * kernel lets one file be in several): to every other worker, a worker that
 * closes, replaces or changes an fd is one more "OS thread that is not the
 * worker" (below), and tells it so. */
struct gp_fdtab {
    struct fdent **tab;
    size_t cap;
    /* Which numbers the worker's epoll set may hold (a watcher is started),
     * readable by any OS thread: a two-level table, since the worker's own
     * table moves when it grows. Chunks are allocated by the worker only and
     * published with a release store; never freed. */
    unsigned char *watching[WCHUNKS];
    /* the queue of changes by other threads: fd << 1 | 1 when only its flags
     * changed. Bounded: past FOREIGN_MAX changes between two drains (a thread
     * that opens and closes files while no gthread does I/O) it stops growing
     * and the worker checks every entry's file instead. */
    int foreign_lock_word;
    int *foreign_q;
    size_t foreign_n, foreign_cap;
    int foreign_all;      /* the queue could not grow: forget every entry */
    int foreign_pending;  /* something is queued (the worker's fast check) */
    /* the same, from signal handlers (gp__tls.in_handler), which may take
     * no lock and allocate nothing: a fixed array of slots, each
     * (fd << 1 | flags only) + 1 or 0 for free, filled with a CAS and
     * emptied by the worker with exchanges; when every slot is taken,
     * handler_all says "forget every entry" as foreign_all does */
    int handler_q[HANDLER_SLOTS];
    int handler_all;
    uv_async_t foreign_async; /* wakes the worker for gthreads parked on a changed fd */
    uv_loop_t *foreign_async_loop;
    /* accepts in a row that got a connection without a preemption point
     * (accept_keeps_going) */
    unsigned accept_streak;
};

/* the calling worker's table: worker only */
#define MYT (GP_ME()->fds)

/* main's thread, as worker w is made */
int gp__fd_worker_init(struct gp_worker *w)
{
    w->fds = calloc(1, sizeof *w->fds);
    return w->fds ? 0 : -1;
}

/* ---- changes by OS threads that are not the worker -------------------------- */

/* worker only */
static void set_watching(int fd, int on)
{
    struct gp_fdtab *T = MYT;
    if (fd < 0 || fd >= WCHUNK * WCHUNKS) return;
    unsigned char *c = T->watching[fd / WCHUNK];
    if (!c) {
        if (!on || !(c = calloc(WCHUNK, 1))) return;
        __atomic_store_n(&T->watching[fd / WCHUNK], c, __ATOMIC_RELEASE);
    }
    /* seq_cst, paired with foreign_change's seq_cst loads: of a watcher
     * being started and a change being queued, one side sees the other */
    __atomic_store_n(&c[fd % WCHUNK], (unsigned char)on, __ATOMIC_SEQ_CST);
}

/* any OS thread; a number beyond the table counts as watched (it costs a
 * system call that finds nothing) */
static int is_watching(struct gp_fdtab *T, int fd)
{
    if (fd >= WCHUNK * WCHUNKS) return 1;
    unsigned char *c = __atomic_load_n(&T->watching[fd / WCHUNK], __ATOMIC_ACQUIRE);
    return c && __atomic_load_n(&c[fd % WCHUNK], __ATOMIC_SEQ_CST);
}

static void flock_(struct gp_fdtab *T)
{
    while (__atomic_exchange_n(&T->foreign_lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&T->foreign_lock_word, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void funlock(struct gp_fdtab *T) { __atomic_store_n(&T->foreign_lock_word, 0, __ATOMIC_RELEASE); }

/* any OS thread that is not w's: fd was (or is about to be) closed or
 * replaced (replacing: the caller has not done it yet), or its flags changed */
static void foreign_change(struct gp_worker *w, int fd, int replacing, int flags_only)
{
    if (!w || fd < 0) return;
    struct gp_fdtab *T = w->fds;
    flock_(T);
    if (T->foreign_n == T->foreign_cap && T->foreign_cap < FOREIGN_MAX) {
        size_t n = T->foreign_cap ? T->foreign_cap * 2 : 64;
        int *q = realloc(T->foreign_q, n * sizeof *q);
        if (q) T->foreign_q = q, T->foreign_cap = n;
    }
    if (T->foreign_n < T->foreign_cap) T->foreign_q[T->foreign_n++] = fd << 1 | !!flags_only;
    else T->foreign_all = 1;
    /* seq_cst: the worker's check in drain_foreign, and set_watching's store
     * against is_watching's load below (see set_watching) */
    __atomic_store_n(&T->foreign_pending, 1, __ATOMIC_SEQ_CST);
    funlock(T);
    if (flags_only || !is_watching(T, fd)) return;
    /* the number still names the old file: take it out of the epoll set
     * now (the worker's own removal, later, will find nothing: harmless) */
    if (replacing) R(epoll_ctl)(w->loop.backend_fd, EPOLL_CTL_DEL, fd, NULL);
    /* acquire: pairs with the release that published the initialised handle */
    if (__atomic_load_n(&T->foreign_async_loop, __ATOMIC_ACQUIRE) == &w->loop) gp__async_send(&T->foreign_async);
}

/* any OS thread: foreign_change for every worker but the caller's own */
static void tell_others(int fd, int replacing, int flags_only)
{
    struct gp_worker *me = GP_ME();
    int n = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        struct gp_worker *w = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
        if (w && w != me) foreign_change(w, fd, replacing, flags_only);
    }
}

/* Signal-safe: a signal handler (on any OS thread, the worker's own
 * included) changed fd, or is about to replace it, as foreign_change says.
 * A handler may have interrupted code that holds T's lock, is halfway
 * through the table, the run queue or libuv's watcher queue: so it takes no
 * lock, allocates nothing, readies nobody and touches no entry. It posts the
 * number to a free slot (CAS), or says "every entry" when none is free, and
 * raises foreign_pending; the worker applies the post at its next drain
 * (before any use of the table), exactly as a queued change. What must
 * happen before the real close still does: the number leaves w's epoll set
 * (a system call), and w's loop is woken for its parked waiters
 * (gp__async_send, which is async-signal-safe). */
static void handler_change(struct gp_worker *w, int fd, int replacing, int flags_only)
{
    if (!w || fd < 0 || fd >= INT_MAX / 2) return;
    struct gp_fdtab *T = w->fds;
    int v = (fd << 1 | !!flags_only) + 1, posted = 0;
    for (int i = 0; i < HANDLER_SLOTS && !posted; i++) {
        int cur = __atomic_load_n(&T->handler_q[i], __ATOMIC_SEQ_CST);
        if (cur == v) posted = 1; /* posted already, not drained yet: that drain comes after this look */
        else if (!cur && __atomic_compare_exchange_n(&T->handler_q[i], &cur, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            posted = 1;
    }
    if (!posted) __atomic_store_n(&T->handler_all, 1, __ATOMIC_SEQ_CST);
    /* seq_cst, after the slot: a drain that clears the flag looks at the
     * slots after (drain_foreign_slow), so it sees the post or the flag */
    __atomic_store_n(&T->foreign_pending, 1, __ATOMIC_SEQ_CST);
    if (flags_only || !is_watching(T, fd)) return;
    if (replacing) R(epoll_ctl)(w->loop.backend_fd, EPOLL_CTL_DEL, fd, NULL);
    if (__atomic_load_n(&T->foreign_async_loop, __ATOMIC_ACQUIRE) == &w->loop) gp__async_send(&T->foreign_async);
}

/* signal-safe: handler_change for every worker, the caller's own too */
static void tell_all_from_handler(int fd, int replacing, int flags_only)
{
    int n = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) handler_change(__atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE), fd, replacing, flags_only);
}

static void forget(struct fdent *e);

/* worker only: one queued change (fd << 1 | flags only) */
static void apply_change(struct gp_fdtab *T, int v)
{
    int fd = v >> 1;
    struct fdent *e = (size_t)fd < T->cap ? T->tab[fd] : NULL;
    if (!e) return;
    if (v & 1) e->known = 0;
    else forget(e);
}

/* worker only: forget what other OS threads and signal handlers changed */
static void drain_foreign_slow(void)
{
    struct gp_fdtab *T = MYT;
    flock_(T);
    int *q = T->foreign_q;
    size_t n = T->foreign_n;
    int all = T->foreign_all;
    T->foreign_q = NULL;
    T->foreign_n = T->foreign_cap = 0;
    T->foreign_all = 0;
    __atomic_store_n(&T->foreign_pending, 0, __ATOMIC_SEQ_CST);
    funlock(T);
    /* the handlers' slots after the flag's clearing (handler_change): a post
     * this misses raised the flag again */
    if (__atomic_exchange_n(&T->handler_all, 0, __ATOMIC_SEQ_CST)) all = 1;
    for (int i = 0; i < HANDLER_SLOTS; i++) {
        int v = __atomic_exchange_n(&T->handler_q[i], 0, __ATOMIC_SEQ_CST);
        if (v) apply_change(T, v - 1);
    }
    for (size_t i = 0; i < n; i++) apply_change(T, q[i]);
    free(q);
    if (all) /* which numbers changed is not known: those whose file did */
        for (size_t fd = 0; fd < T->cap; fd++) {
            struct fdent *e = T->tab[fd];
            struct stat st;
            if (!e || e->kind == K_UNKNOWN) continue;
            if (!e->dev && !e->ino) { /* never asked (an accepted socket): start afresh, */
                for (struct gp_list *l = e->waiters.next; l != &e->waiters; l = l->next)
                    gp__ready(gp_container(l, struct waiter, link)->g, 0); /* its waiters try again */
                forget(e);
            } else if (fstat(e->fd, &st) != 0 || st.st_dev != e->dev || st.st_ino != e->ino) {
                forget(e);
            } else {
                e->known = 0;
            }
        }
}

static inline void drain_foreign(void)
{
    if (GP_UNLIKELY(__atomic_load_n(&MYT->foreign_pending, __ATOMIC_SEQ_CST))) drain_foreign_slow();
}

static void on_foreign_async(uv_async_t *a)
{
    (void)a;
    drain_foreign();
}

static __attribute__((noinline)) struct fdent *entry_slow(int fd, int create)
{
    if (fd < 0 || !create) return NULL;
    struct gp_fdtab *T = MYT;
    if ((size_t)fd >= T->cap) {
        size_t n = T->cap ? T->cap : 256;
        while (n <= (size_t)fd) n *= 2;
        struct fdent **t = realloc(T->tab, n * sizeof *t);
        if (!t) return NULL;
        memset(t + T->cap, 0, (n - T->cap) * sizeof *t);
        T->tab = t;
        T->cap = n;
    }
    struct fdent *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->fd = fd;
    gp_list_init(&e->waiters);
    T->tab[fd] = e;
    return e;
}

/* fd's entry; with create, made if missing (NULL: fd < 0 or out of memory) */
static inline struct fdent *entry(int fd, int create)
{
    struct gp_fdtab *T = MYT;
    if (GP_LIKELY((size_t)fd < T->cap)) { /* a negative fd is a huge size_t */
        struct fdent *e = T->tab[fd];
        if (GP_LIKELY(e != NULL)) return e;
    }
    return entry_slow(fd, create);
}

/* In which directions may a call on this anonymous inode wait? Only an
 * eventfd's write waits (for the counter to have room); reads wait on the
 * files made to be read when something happens. Any other call (a write to
 * a timerfd, signalfd or inotify fd, a read of an epoll fd or a pidfd) the
 * kernel answers at once, mostly EINVAL, and must not wait here for a
 * readiness its poll never reports. Unknown (no /proc): both, as before. */
static int anon_waits(int fd)
{
    static const char *const readable[] = {"[eventfd]", "[timerfd]", "[signalfd]", "inotify",
                                           "[fanotify]", "[userfaultfd]"};
    char path[40], name[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, name, sizeof name - 1);
    if (n <= 0) return GP_IN | GP_OUT;
    name[n] = 0;
    if (strncmp(name, "anon_inode:", 11) != 0) return GP_IN | GP_OUT;
    const char *kind = name + 11;
    int w = 0;
    for (size_t i = 0; i < sizeof readable / sizeof *readable; i++)
        if (strcmp(kind, readable[i]) == 0) w |= GP_IN;
    if (strcmp(kind, "[eventfd]") == 0) w |= GP_OUT;
    return w;
}

static int classify(struct fdent *e)
{
    struct stat st;
    if (fstat(e->fd, &st) != 0) return -1;
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    e->stream = e->drainable = 0;
    e->waits = GP_IN | GP_OUT;
    switch (st.st_mode & S_IFMT) {
    case S_IFSOCK: {
        int type = 0;
        socklen_t len = sizeof type;
        getsockopt(e->fd, SOL_SOCKET, SO_TYPE, &type, &len);
        e->kind = K_SOCK;
        e->stream = e->drainable = type == SOCK_STREAM;
        break;
    }
    case S_IFIFO:
        e->kind = K_RWF;
        e->stream = e->drainable = 1;
        break;
    case S_IFCHR: {
        struct termios tio;
        e->kind = tcgetattr(e->fd, &tio) == 0 ? K_RWF : K_PASS;
        e->stream = 1;
        break;
    }
    case 0:
        e->kind = K_POLLFIRST; /* anon inodes: eventfd, timerfd, signalfd... */
        e->waits = anon_waits(e->fd);
        break;
    default:
        e->kind = K_PASS;
    }
    return 0;
}

/* The entry for fd, classified; NULL when fd is not open (let the call say). */
/* A connection accept returned: a socket of its listener's type, known
 * without asking the kernel (its flags are learnt at its first wait). */
static void accepted(int fd, struct fdent *listener)
{
    gp_fd_new(fd);
    struct fdent *e = entry(fd, 1);
    if (!e) return;
    e->kind = K_SOCK;
    e->waits = GP_IN | GP_OUT;
    e->stream = e->drainable = listener->stream;
    e->dev = 0, e->ino = 0; /* not asked */
    e->accepting = 0;
}

static struct fdent *lookup(int fd)
{
    struct fdent *e = entry(fd, 1);
    if (!e) return NULL;
    if (e->kind == K_UNKNOWN && classify(e) != 0) return NULL;
    return e;
}

static int64_t timeo(int fd, int opt)
{
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) return 0;
    return (int64_t)tv.tv_sec * GP_NSEC + (int64_t)tv.tv_usec * 1000;
}

static void learn(struct fdent *e)
{
    if (e->known) return;
    int fl = R(fcntl64)(e->fd, F_GETFL);
    e->flags = fl;
    e->nonblock = fl >= 0 && (fl & O_NONBLOCK);
    e->rcvtimeo = e->kind == K_SOCK ? timeo(e->fd, SO_RCVTIMEO) : 0;
    e->sndtimeo = e->kind == K_SOCK ? timeo(e->fd, SO_SNDTIMEO) : 0;
    e->known = 1;
}

/* the flags learn read, for an attempt that sets O_NONBLOCK for one call
 * (gp_io's op->fl), or -1: not read yet (the attempt reads them itself) */
static int known_flags(struct fdent *e) { return e->known ? e->flags : -1; }

static int program_nonblocking(struct fdent *e)
{
    learn(e);
    return e->nonblock;
}

/* May a call in the direction events be made on e's file at all? Its
 * access mode (O_ACCMODE of the flags learn read, once per file) says: the
 * kernel refuses a read of a file not opened for reading, a write of one not
 * opened for writing, and anything on an O_PATH fd, at once (EBADF), so such
 * a call must never wait. It would, on the poll-first path: a zero-timeout
 * poll of a pipe's write end for reading never says "ready" (the kernel
 * reports only the directions the file was opened for), nor does a wait
 * for it. An fd whose flags cannot be read (closed meanwhile) goes to the
 * kernel too. */
static int mode_allows(struct fdent *e, int events)
{
    learn(e);
    if (e->flags < 0 || (e->flags & O_PATH)) return 0;
    int acc = e->flags & O_ACCMODE; /* 3: neither (a file opened for ioctls only) */
    if ((events & GP_IN) && acc != O_RDONLY && acc != O_RDWR) return 0;
    if ((events & GP_OUT) && acc != O_WRONLY && acc != O_RDWR) return 0;
    return 1;
}

/* May an accept on e wait? Only on a listening socket: on any other the
 * kernel answers EINVAL at once, while accept's zero-timeout poll for
 * POLLIN (accept has no "don't wait" flag) would wait for data on a
 * connected one. Asked at the first wait, kept once it says yes. */
static int accepts(struct fdent *e)
{
    if (!e->accepting) {
        int on = 0;
        socklen_t len = sizeof on;
        e->accepting = getsockopt(e->fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
    }
    return e->accepting;
}

static gp_deadline socket_deadline(struct fdent *e, int events)
{
    learn(e);
    int64_t t = (events & GP_IN) ? e->rcvtimeo : e->sndtimeo;
    return t ? gp_after_ns(t) : GP_FOREVER;
}

/* any OS thread, signal-safe */
void gp_fd_flags_changed(int fd)
{
    if (!gp__w) return;
    if (GP_UNLIKELY(gp__tls.in_handler)) { /* the program's handler, wherever it interrupted */
        tell_all_from_handler(fd, 0, 1);
        return;
    }
    gp_enter(); /* a gthread left away by a hand-off: back on its worker first */
    tell_others(fd, 0, 1);
    if (!gp__tls.worker) return;
    struct fdent *e = entry(fd, 0);
    if (e) e->known = 0;
}

#define READY_LOCKS 64
static int ready_locks[READY_LOCKS];

int gp_ready_lock(int fd)
{
    if (__atomic_load_n(&gp__nworkers, __ATOMIC_RELAXED) <= 1) return 1;
    /* A poll and a call that does not wait (the poll said so): held for
     * two system calls, so wait for it rather than answer -EAGAIN, which a
     * non-blocking fd's caller would see (an edge-triggered program would
     * then wait for an edge that already came). 0 only when the holder
     * seems stuck (another process took what its poll saw: its call
     * blocks): the caller waits for the fd again. */
    int *l = &ready_locks[(unsigned)fd % READY_LOCKS];
    for (int i = 0; __atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE); i++) {
        if (i >= 100000) return 0;
        if (i >= 64 && gp_is_current_gthread()) gp_yield(); /* (its fd entry is this worker's: it stays) */
        else if (i >= 64) R(sched_yield)();
        else __builtin_ia32_pause();
    }
    return 1;
}

void gp_ready_unlock(int fd)
{
    if (__atomic_load_n(&gp__nworkers, __ATOMIC_RELAXED) <= 1) return;
    __atomic_store_n(&ready_locks[(unsigned)fd % READY_LOCKS], 0, __ATOMIC_RELEASE);
}

static int ready_now(int fd, int events)
{
    struct pollfd p = {fd, (short)(((events & GP_IN) ? POLLIN : 0) | ((events & GP_OUT) ? POLLOUT : 0)), 0};
    return R(poll)(&p, 1, 0) > 0;
}

/* ---- watching ------------------------------------------------------------ */

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct fdent *e = h->data;
    int ev = status < 0 ? (GP_IN | GP_OUT | GP_PRI) : events;
    if (ev & GP_IN) e->drained = 0;
    int woke = 0, want = 0;
    for (struct gp_list *n = e->waiters.next; n != &e->waiters; n = n->next) {
        struct waiter *wt = gp_container(n, struct waiter, link);
        if (wt->g->state != GT_PARKED) { /* readied already, not run yet: it will look again */
            if (wt->events & ev) woke = 1;
            else want |= wt->events;
            continue;
        }
        if (wt->events & ev) {
            gp__ready(wt->g, 0);
            woke = 1;
        } else {
            want |= wt->events;
        }
    }
    if (woke && status >= 0) { /* they will likely wait again: stay started */
        /* The woken run now, from here, at every wake, as a native server
         * handles a read inside its callback: left for the turn's end they
         * have not read yet when libuv polls again within the turn (it does
         * while its array of events comes back full), and an acceptor waits
         * while its listen queue overflows. (Running them at one wake in 64
         * saved ~200 instructions per keep-alive request, but an acceptor
         * woken in a busy turn waited behind up to 64 wakes each time: the
         * 10-minute soak lost connections, 5,695 stuck 30 s and 314 reset.)
         * GPATCH_SHUFFLE, and a worker idle for a while that one of them
         * could move to (stealing), make gp__run_ready leave them for the
         * turn's end. */
        gp__run_ready();
        return;
    }
    if (!want) {
        uv_poll_stop(&e->poll);
        e->polling = 0;
        set_watching(e->fd, 0);
    } else if (want != e->polling) {
        uv_poll_start(&e->poll, want, on_poll);
        e->polling = want;
    }
}

/* worker only: start (or widen) e's watcher for events */
static __attribute__((noinline)) int watch_start(struct fdent *e, int events)
{
    struct gp_worker *w = GP_ME();
    struct gp_fdtab *T = w->fds;
    if (T->foreign_async_loop != &w->loop) {
        if (uv_async_init(&w->loop, &T->foreign_async, on_foreign_async) != 0) return UV_ENOMEM;
        /* release: a thread that sees the loop here may send to the handle */
        __atomic_store_n(&T->foreign_async_loop, &w->loop, __ATOMIC_RELEASE);
    }
    if (e->loop != &w->loop) {
        /* uv_poll_init sets O_NONBLOCK on the fd (ioctl FIONBIO): the shim
         * swallows that request, the file stays as the program made it. */
        int before = R(fcntl64)(e->fd, F_GETFL);
        gp__tls.swallow_nb = 1;
        int r = uv_poll_init(&w->loop, &e->poll, e->fd);
        gp__tls.swallow_nb = 0;
        if (r != 0) return r;
        /* and if it got through all the same (a libuv built to use fcntl),
         * put the flag back at once */
        if (before >= 0 && !(before & O_NONBLOCK) && (R(fcntl64)(e->fd, F_GETFL) & O_NONBLOCK))
            R(fcntl64)(e->fd, F_SETFL, before);
        e->loop = &w->loop;
        e->poll.data = e;
        e->polling = 0;
    }
    if ((e->polling | events) != e->polling) {
        if (!e->polling) set_watching(e->fd, 1);
        /* a change queued before that store is seen now, before libuv is
         * asked to add or modify a registration the change may have removed */
        drain_foreign();
        int r = uv_poll_start(&e->poll, e->polling | events, on_poll);
        if (r != 0) {
            if (!e->polling) set_watching(e->fd, 0);
            return r;
        }
        e->polling |= events;
    }
    return 0;
}

/* worker only: e's watcher is started for events (0, or a libuv error).
 * A hot fd's watcher stays started between waits: then this is one test. */
static inline int watch(struct fdent *e, int events)
{
    struct gp_worker *w = GP_ME();
    if (GP_LIKELY(e->loop == &w->loop && (e->polling & events) == events && w->fds->foreign_async_loop == &w->loop))
        return 0;
    return watch_start(e, events);
}

/* gthread only: park until e is ready for events (or dl, a signal, a
 * cancel: gp__park's results); inlined into gp_io's short path */
static inline __attribute__((always_inline)) int wait_fd_inline(struct fdent *e, int events, gp_deadline dl, int intr)
{
    struct waiter wt = {.g = GP_ME()->cur, .events = events};
    int r = watch(e, events);
    if (r != 0) return r;
    gp_list_push(&e->waiters, &wt.link);
    r = gp__park("fd", dl, intr | GP_CANCELPT);
    gp_list_del(&wt.link);
    if (r == -ECANCELED) gp__cancel_exit(); /* read, write, accept...: cancellation points */
    return r;
}

/* gthread only: wait_fd_inline, called */
static int wait_fd(struct fdent *e, int events, gp_deadline dl, int intr)
{
    return wait_fd_inline(e, events, dl, intr);
}

/* ---- the I/O loop ---------------------------------------------------------- */

/* 0: act as if the kernel refused RWF_NOWAIT on every file (the K_RWF kind
 * drops to K_POLLFIRST at its first call), as kernels before pipes took it
 * do; GPATCH_NO_RWF_NOWAIT=1, a testing aid. Set once, before any thread. */
static int rwf_nowait = 1;
void gp_configure_rwf_nowait(int on) { rwf_nowait = on; }

#define NOT_TRIED (-SSIZE_MAX - 1) /* io_loop's first: no attempt made yet */

static __attribute__((noinline)) ssize_t io_loop(struct gp_io *op, ssize_t first);

/* A read that may wait for the watcher without anything worked out first:
 * a drained stream socket the watcher is started on for reading, blocking
 * as the program sees it, no receive timeout (io_loop's shortcut, and what
 * its wait would compute, known in advance) */
static inline int hot_read_wait(const struct fdent *e)
{
    return e->drainable && (e->polling & GP_IN) && e->known && !e->nonblock && !e->rcvtimeo;
}

/* An accept that got a connection is no preemption point, up to
 * ACCEPT_STREAK in a row: an acceptor takes the connections waiting before it
 * gives the worker up (at EAGAIN it parks), as a native loop's accept
 * callback takes them until EAGAIN. Preempted between two accepts, it went to
 * the end of a run queue of thousands of connection threads each time and
 * took a few more: in the 10-minute soak the accepted connections fell from
 * 10,000 to about 2,500, the rest waited in a listen queue that overflowed,
 * and the kernel reset connections whose handshake it had completed and then
 * dropped (read: ECONNRESET on the first round; 7 in 10 minutes). The streak
 * bounds a flood that never empties the queue: at its end the acceptor passes
 * a preemption point after all. gthread only; r is accept's result. */
#define ACCEPT_STREAK 256
static int accept_keeps_going(ssize_t r)
{
    struct gp_fdtab *T = MYT;
    if (r >= 0 && ++T->accept_streak < ACCEPT_STREAK) return 1;
    if (r >= 0) gp__tls.preempt_calls |= 7; /* the streak's end: this point looks at the clock */
    T->accept_streak = 0;
    return 0;
}

/* gthread only */
ssize_t gp_io(struct gp_io *op)
{
    /* The common case first, a socket the table knows: a call done in one
     * attempt (a write the kernel takes whole, a read that finds data), or a
     * read of a drained socket that waits for its watcher and then finds
     * data. Anything else goes on in io_loop, with the failed attempt's
     * result if one was made. A call that has not waited needs no
     * blocking-call bracket: a signal can only be noted at a switch. */
    struct gp_gthread *g = NULL;
    ssize_t r;
    for (;;) {
        r = NOT_TRIED;
        drain_foreign();
        struct fdent *e = entry(op->fd, 0);
        if (GP_UNLIKELY(e == NULL) || e->kind != K_SOCK || op->newfd || op->connect) break;
        if (e->drained && op->events == GP_IN) {
            if (!hot_read_wait(e)) break;
            if (!g) g = gp__call_begin();
            int w = wait_fd_inline(e, GP_IN, GP_FOREVER, GP_RESTARTABLE);
            if (w != 0) { /* only the park's own results: the watcher is started */
                r = op->done ? (ssize_t)op->done : w;
                goto out;
            }
            continue;
        }
        op->fl = known_flags(e);
        r = op->attempt(op, GP_SOCK);
        if (r < 0) break;
        if (op->drains && e->drainable && (size_t)r < op->len - op->done) e->drained = 1;
        if (!op->all || !e->stream) goto out;
        op->done += (size_t)r;
        if (r == 0 || op->done >= op->len) {
            r = (ssize_t)op->done;
            goto out;
        }
    }
    if (!g) g = gp__call_begin();
    r = io_loop(op, r);
out:
    if (g) gp__call_end(g);
    if (GP_UNLIKELY(op->newfd) && accept_keeps_going(r)) return r;
    gp_preempt_point();
    return r;
}

/* gthread only. first: the failure of an attempt gp_io made already (as
 * GP_SOCK, nothing moved), or NOT_TRIED */
static ssize_t io_loop(struct gp_io *op, ssize_t first)
{
    gp_deadline dl = -2; /* not computed yet */
    for (;;) {
        drain_foreign();
        struct fdent *e = lookup(op->fd);
        /* (a socket's call on another file: ENOTSOCK, at once) */
        if (!e || e->kind == K_PASS || (op->sock && e->kind != K_SOCK)) return op->attempt(op, GP_PLAIN);
        ssize_t r, tried = first;
        first = NOT_TRIED;
        if (tried != NOT_TRIED && e->kind == K_SOCK) { /* (a change by another thread meanwhile: try afresh) */
            r = tried;
        } else if (e->drainable && op->events == GP_IN && e->drained && (e->polling & GP_IN) && e->known &&
                   !e->nonblock && !op->newfd) {
            /* nothing came since the last read found it empty: the watcher
             * would have said so. Wait without the system call. */
            r = -EAGAIN;
        } else if (e->kind == K_SOCK) {
            op->fl = known_flags(e);
            r = op->attempt(op, GP_SOCK);
        } else if (e->kind == K_RWF) {
            r = rwf_nowait ? op->attempt(op, GP_RWF) : -EOPNOTSUPP; /* (refused, as some kernels do) */
            if (r == -EOPNOTSUPP) {
                e->kind = K_POLLFIRST;
                continue;
            }
        } else if (!(e->waits & op->events)) {
            return op->attempt(op, GP_PLAIN); /* the kernel answers at once: no wait of ours */
        } else if (gp_ready_lock(op->fd)) {
            /* a writable pipe takes PIPE_BUF bytes without blocking, not always more */
            int how = (op->events & GP_OUT) && e->stream ? GP_SMALL : GP_PLAIN;
            r = ready_now(op->fd, op->events) ? op->attempt(op, how) : -EAGAIN;
            gp_ready_unlock(op->fd);
        } else {
            r = -EAGAIN; /* another worker's gthread polls and calls on it now */
        }
        if (r == -ENOTSOCK && e->kind == K_SOCK) { /* the number was reused behind our back */
            e->kind = K_UNKNOWN;
            if (classify(e) == 0 && e->kind != K_SOCK) continue;
        }

        if (r == -EINPROGRESS && op->connect) {
            if (program_nonblocking(e)) return r;
            gp_deadline cdl = socket_deadline(e, GP_OUT);
            for (;;) {
                int w = wait_fd(e, GP_OUT, cdl, cdl == GP_FOREVER ? GP_RESTARTABLE : GP_NORESTART);
                if (w == -ETIMEDOUT) return -EINPROGRESS;
                if (w < 0) return w;
                op->fl = known_flags(e);
                r = op->attempt(op, GP_FINISH);
                if (r != -EALREADY && r != -EINPROGRESS) return r; /* else: woken early */
            }
        }
        if (r >= 0) {
            if (op->newfd) accepted((int)r, e);
            /* a stream read that got less than it asked for emptied the socket or pipe
             * (a terminal's may stop at a line's end with more behind it); one that
             * got 0 found the end, which every later read finds too: not drained
             * (with it, each of 1,000 readers woken by a pipe's close found it
             * "drained" after the first had read the end, and parked again) */
            if (op->drains && e->drainable && r > 0 && (size_t)r < op->len - op->done) e->drained = 1;
            if (!op->all || !e->stream) return r;
            op->done += (size_t)r;
            if (r == 0 || op->done >= op->len) return (ssize_t)op->done;
            continue;
        }
        /* a wait the real call would not make: the kernel refuses it at once */
        if (r == -EAGAIN && !mode_allows(e, op->events)) return op->attempt(op, GP_PLAIN);
        if (r == -EAGAIN && op->newfd && !accepts(e)) return op->attempt(op, GP_PLAIN);
        if (r == -EAGAIN && op->events == GP_IN) e->drained = 1;
        if (r != -EAGAIN || program_nonblocking(e)) return op->done ? (ssize_t)op->done : r;
        if (dl == -2) dl = socket_deadline(e, op->events);
        int w = wait_fd(e, op->events, dl, dl == GP_FOREVER ? GP_RESTARTABLE : GP_NORESTART);
        if (w == 0) continue;
        if (w == UV_EPERM || w == UV_EEXIST || w == UV_ENOTSOCK) { /* cannot be watched */
            e->kind = K_PASS;
            continue;
        }
        if (op->done) return (ssize_t)op->done;
        if (w == -ETIMEDOUT) return -EAGAIN;
        return w;
    }
}

static int poll_events(short ev)
{
    int r = 0;
    if (ev & (POLLIN | POLLRDNORM | POLLRDBAND | POLLRDHUP)) r |= GP_IN;
    if (ev & (POLLOUT | POLLWRNORM | POLLWRBAND)) r |= GP_OUT;
    if (ev & POLLPRI) r |= GP_PRI;
    return r;
}

static int poll_loop(struct gp_pollop *op);

int gp_poll(struct gp_pollop *op)
{
    struct gp_gthread *g = gp__call_begin();
    int r = poll_loop(op);
    gp__call_end(g);
    return r;
}

static int poll_loop(struct gp_pollop *op)
{
    struct waiter local[16], *ws = local;
    int r;
    for (;;) {
        drain_foreign();
        r = op->attempt(op); /* validates the arguments before we touch them */
        if (r != 0) break;
        if (op->deadline == 0 || (op->deadline > 0 && gp_now() >= op->deadline)) {
            gp__wait_skipped(); /* nothing ready and no time to wait: others run */
            break;
        }
        if (op->nwait > 16 && ws == local && !(ws = malloc(op->nwait * sizeof *ws))) {
            ws = local;
            r = -ENOMEM;
            break;
        }
        nfds_t nw = 0;
        for (nfds_t i = 0; i < op->nwait; i++) {
            int ev = poll_events(op->wait[i].events);
            struct fdent *e = ev ? entry(op->wait[i].fd, 1) : NULL;
            if (!e || watch(e, ev) != 0) continue;
            ws[nw] = (struct waiter){.g = GP_ME()->cur, .events = ev};
            gp_list_push(&e->waiters, &ws[nw].link);
            nw++;
        }
        int w = gp__park("poll", op->deadline, GP_NORESTART | GP_CANCELPT);
        for (nfds_t i = 0; i < nw; i++) gp_list_del(&ws[i].link);
        if (w == -ECANCELED) { /* poll, select, epoll_wait, sigwait: cancellation points */
            if (ws != local) free(ws);
            gp__cancel_exit();
        }
        if (w == -EINTR) {
            r = -EINTR;
            break;
        }
        if (w == -ETIMEDOUT) {
            r = op->attempt(op);
            break;
        }
    }
    if (ws != local) free(ws);
    return r;
}

/* ---- fd lifecycle ------------------------------------------------------------ */

static void forget(struct fdent *e)
{
    for (struct gp_list *n = e->waiters.next; n != &e->waiters; n = n->next)
        gp__ready(gp_container(n, struct waiter, link)->g, -EBADF);
    if (e->polling) {
        uv_poll_stop(&e->poll);
        e->polling = 0;
        set_watching(e->fd, 0);
    }
    e->kind = K_UNKNOWN;
    e->known = 0;
    e->drained = 0;
    e->accepting = 0;
}

/* any OS thread, signal-safe (before the real close or replacement) */
int gp_fd_close(int fd)
{
    if (!gp__w) return 0;
    if (GP_UNLIKELY(gp__tls.in_handler)) { /* the program's handler, wherever it interrupted */
        if (gp__loop_owns_fd(fd)) return -EBADF;
        tell_all_from_handler(fd, 1, 0);
        return 0;
    }
    gp_enter(); /* a gthread left away by a hand-off: back on its worker first */
    struct gp_worker *w = GP_ME();
    if (!w) {
        if (gp__loop_owns_fd(fd)) return -EBADF;
        tell_others(fd, 1, 0);
        return 0;
    }
    if (w->cur != &w->sched && gp__loop_owns_fd(fd)) return -EBADF;
    tell_others(fd, 1, 0);
    drain_foreign();
    struct fdent *e = entry(fd, 0);
    if (e) forget(e);
    return 0;
}

/* any OS thread: is there a runtime whose table must hear of fd changes? */
int gp_fd_tracking(void) { return gp__w != NULL; }

/* any OS thread, signal-safe (after the number appeared) */
void gp_fd_new(int fd)
{
    if (!gp__w) return;
    if (GP_UNLIKELY(gp__tls.in_handler)) { /* the program's handler, wherever it interrupted */
        tell_all_from_handler(fd, 0, 0);
        return;
    }
    gp_enter(); /* a gthread left away by a hand-off: back on its worker first */
    tell_others(fd, 0, 0);
    if (!gp__tls.worker) return;
    drain_foreign();
    struct fdent *e = entry(fd, 0);
    if (e) forget(e);
}

void gp__fd_fork_reset(void)
{
    /* the tables belong to the parent's loops: leave them; a runtime the
     * child starts makes new ones (gp__fd_worker_init). A ready lock another
     * worker held at the fork is nobody's here. */
    memset(ready_locks, 0, sizeof ready_locks);
}
