/* tls.c — a green thread's own thread control block and static TLS.
 *
 * Why
 * ---
 * On x86-64 every thread-local variable is found from the thread pointer
 * (the %fs base): errno, h_errno, a program's __thread and thread_local
 * variables, C++'s caught-exception stack, malloc's per-thread cache, and
 * glibc's own thread descriptor (struct pthread), which lies at the thread
 * pointer itself. Green threads that shared their worker's thread pointer
 * shared all of that: a "current request" kept in a thread_local was another
 * green thread's after any blocking call. So each green thread gets a block
 * of its own, and a switch loads its thread pointer.
 *
 * How a block is made
 * -------------------
 * As glibc makes one for a new thread: the dynamic loader's own allocator
 * (_dl_allocate_tls, looked up at run time; it is glibc's private interface,
 * so every symbol is checked and its absence means shared TLS, never a
 * crash) lays out the static TLS of every loaded module below the thread
 * pointer, copies each module's TLS image, and builds a fresh DTV for
 * modules loaded later (their blocks are made on first use by
 * __tls_get_addr, per green thread, as per thread). At the thread pointer
 * lies glibc's thread descriptor; we fill it from a snapshot of the worker's
 * own, taken at start, then make the fields that must be this block's own:
 *   - the self pointers (header.tcb, header.self) and the DTV pointer;
 *   - header.multiple_threads = 1, so glibc takes its internal locks;
 *   - the descriptor's list link points to itself: glibc's fork unlinks the
 *     calling thread's descriptor, which must not touch another's;
 *   - the rseq area is marked "registration failed" (cpu_id -2): the kernel
 *     keeps the worker's area current, not this copy, so sched_getcpu() asks
 *     the kernel instead of reading a stale number.
 * A new green thread's first act, on its own block, is what glibc's thread
 * start does for every thread: point the ctype tables' thread-local
 * pointers at the locale's (__ctype_init; isspace() reads through them).
 * Left alone, and documented: the resolver state pointer (__resp) of a
 * green thread is the process's _res, not a per-thread one (name lookups run
 * on helper threads anyway).
 * The stack-protector canary and the pointer guard are copied unchanged:
 * every green thread must agree with the worker on both, since setjmp's
 * mangled pointers and -fstack-protector frames cross green threads.
 *
 * Libraries dlopen'd later
 * ------------------------
 * Their dynamic (global-dynamic) TLS needs nothing: each green thread's own
 * DTV gets its copy on first use, through __tls_get_addr, as a thread's does.
 * A library built with initial-exec TLS (DF_STATIC_TLS) is placed in the
 * static TLS area instead, at the same offset below every thread pointer,
 * and glibc copies its TLS image into the blocks of the threads it knows
 * (its lists of thread descriptors), which ours are not on. So gp_dlopen
 * does it for ours: it notes the static modules before the real dlopen and,
 * after it, copies each new one's image into every green thread that existed
 * before the call (the ones made since have it from _dl_allocate_tls). The
 * offsets are read from the link map through glibc's thread_db descriptors
 * (l_tls_offset, l_tls_modid), like the descriptor's size above.
 *
 * A thread's end
 * --------------
 * On the exiting green thread, on its own block: its thread_local
 * destructors (registered through __cxa_thread_atexit) run, as glibc runs
 * them at a thread's exit. glibc would then free the thread's malloc cache
 * (tcache) through a function it does not export; so instead the cache is
 * handed on to the next green thread created, like a thread pool thread that
 * keeps its cache from one task to the next. Which words of libc's TLS hold
 * malloc's per-thread state is learned once at start: a malloc and free on
 * a scratch block, and the words that changed (only when malloc is glibc's:
 * a replacement allocator cleans up through the thread-exit hooks). What
 * else glibc frees at a thread's exit is freed here too (gp__tls_freeres:
 * dlerror's record, strerror's and strsignal's buffers), and a new block
 * starts without the worker's buffers. The block itself is freed by
 * whoever runs next (never by the thread standing on it).
 *
 * Loading the thread pointer
 * --------------------------
 * wrfsbase (a few ns) where the CPU has FSGSBASE and the kernel allows it
 * (AT_HWCAP2 bit 1), else the arch_prctl(ARCH_SET_FS) system call. The
 * runtime's own per-thread words (gp__tls) are a __thread variable, so each
 * block has its copy: the switch fills the arriving block's copy through an
 * explicit pointer (gp__tls_of), never through a TLS address the compiler
 * may have computed before the switch.
 */
#include "internal.h"
#include "real.h"
#include "tls.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

int gp__tls_mode;
int gp__tls_fsgsbase;
ptrdiff_t gp__tls_gp_off;

static void *(*allocate_tls)(void *);
static void (*deallocate_tls)(void *, _Bool);
static void (*call_tls_dtors)(void);
static size_t tcb_size, list_off;
static ptrdiff_t rseq_off = -1;
static void *snapshot; /* the worker's descriptor at start, fixed up */
static long lm_tls_offset = -1, lm_tls_modid = -1; /* in struct link_map */

/* malloc's per-thread words in libc's static TLS: offsets from the thread
 * pointer, learned at start (at most MWORDS) */
#define MWORDS 4
static ptrdiff_t mword_off[MWORDS];
static int nmwords;
/* caches handed on from exited green threads to the next ones */
struct mcache { struct mcache *next; uintptr_t w[MWORDS]; };
static struct mcache *spare_caches;
static int spare_lock;

static void slock(void)
{
    while (__atomic_exchange_n(&spare_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&spare_lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void sunlock(void) { __atomic_store_n(&spare_lock, 0, __ATOMIC_RELEASE); }
/* the child of a fork: another worker may have held it at the fork */
void gp__tls_fork_reset(void) { spare_lock = 0; }

static long tid_off = -1; /* struct pthread's tid, from thread_db's descriptor */
long gp__tls_tid_off = -1;  /* the same, once known to lie inside a block (for tls.h's gp__tls_tid) */

/* the block's thread id, what glibc's own locks record as their owner */
void gp__tls_set_tid(void *tcb, pid_t tid)
{
    if (tid_off >= 0 && (size_t)tid_off + sizeof tid <= tcb_size) *(pid_t *)((char *)tcb + tid_off) = tid;
}



/* ---- glibc's loader locks --------------------------------------------------
 * The dynamic loader serialises dlopen, dlclose, dl_iterate_phdr and TLS
 * setup with recursive mutexes in _rtld_global (_dl_load_lock,
 * _dl_load_write_lock, _dl_load_tls_lock, side by side) that record their
 * holder's tid. A library's constructors and destructors, and
 * dl_iterate_phdr's callbacks, run with one held: a gthread that moved to
 * another worker meanwhile (stealing) would unlock it under another tid and
 * glibc would keep it locked for good. No header or descriptor names them,
 * so they are found once by looking: inside a dl_iterate_phdr callback this
 * OS thread holds the write lock, the one recursive mutex in _rtld_global
 * held once under its tid; the load lock is the mutex before it and the TLS
 * lock (glibc 2.35 and later) the one after, both recursive. Not found (a
 * glibc laid out otherwise): gp__dl_locks_known() says so, and nothing is
 * stolen. */
static pthread_mutex_t *dl_locks[3];
static int dl_nlocks;

static int find_write_lock(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info, (void)size;
    struct { char *base; size_t len; pid_t tid; } *q = data;
    for (size_t off = 0; off + sizeof(pthread_mutex_t) <= q->len; off += 8) {
        pthread_mutex_t *m = (pthread_mutex_t *)(q->base + off);
        if (m->__data.__lock && m->__data.__owner == q->tid && m->__data.__count == 1 &&
            (m->__data.__kind & 0x7f) == PTHREAD_MUTEX_RECURSIVE_NP) {
            dl_locks[0] = m;
            break;
        }
    }
    return 1; /* one callback is enough */
}

/* main's thread, once (gp__start) */
void gp__dl_locks_find(void)
{
    void *rg = dlvsym(RTLD_DEFAULT, "_rtld_global", "GLIBC_PRIVATE");
    Dl_info di;
    const ElfW(Sym) *sym = NULL;
    if (!rg || !dladdr1(rg, &di, (void **)&sym, RTLD_DL_SYMENT) || !sym || sym->st_size < 3 * sizeof(pthread_mutex_t))
        return;
    struct { char *base; size_t len; pid_t tid; } q = {rg, sym->st_size, gettid()};
    dl_iterate_phdr(find_write_lock, &q);
    pthread_mutex_t *w = dl_locks[0];
    if (!w || (char *)w - (char *)rg < (ptrdiff_t)sizeof *w) return;
    pthread_mutex_t *load = w - 1, *tls = w + 1;
    if ((load->__data.__kind & 0x7f) != PTHREAD_MUTEX_RECURSIVE_NP || load->__data.__owner == q.tid) return;
    dl_locks[1] = load;
    dl_nlocks = 2;
    if ((char *)(tls + 1) <= (char *)rg + sym->st_size && (tls->__data.__kind & 0x7f) == PTHREAD_MUTEX_RECURSIVE_NP &&
        tls->__data.__owner != q.tid)
        dl_locks[dl_nlocks++] = tls;
    if (gp_debug_on) gp_debugf("the loader's locks: %d found in _rtld_global", dl_nlocks);
}

int gp__dl_locks_known(void) { return dl_nlocks >= 2; }

/* any OS thread: does a holder under tid hold one of the loader's locks? */
int gp__dl_locked_by(pid_t tid)
{
    for (int i = 0; i < dl_nlocks; i++)
        if (__atomic_load_n(&dl_locks[i]->__data.__owner, __ATOMIC_RELAXED) == tid) return 1;
    return 0;
}

/* thread_db's descriptor of a struct pthread field: {bits, count, offset} */
static long field_offset(const char *name)
{
    const uint32_t *d = dlvsym(RTLD_DEFAULT, name, "GLIBC_PRIVATE");
    return d ? (long)d[2] : -1;
}

struct libc_tls { uintptr_t data; size_t memsz; };
static int find_libc_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct libc_tls *lt = arg;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "/libc.so.")) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS) {
            lt->data = (uintptr_t)info->dlpi_tls_data;
            lt->memsz = info->dlpi_phdr[i].p_memsz;
        }
    return 1;
}

/* Take tcb's malloc cache (its words zeroed) for the next green thread. */
static void exit_steal(void *tcb)
{
    if (!nmwords) return;
    uintptr_t w[MWORDS];
    int any = 0;
    for (int i = 0; i < nmwords; i++) {
        uintptr_t *p = (uintptr_t *)((char *)tcb + mword_off[i]);
        w[i] = *p;
        any |= w[i] != 0;
    }
    if (!any) return;
    struct mcache *c = malloc(sizeof *c); /* from that cache itself: it goes with it */
    if (!c) return;
    for (int i = 0; i < nmwords; i++) {
        c->w[i] = w[i];
        *(uintptr_t *)((char *)tcb + mword_off[i]) = 0;
    }
    slock();
    c->next = spare_caches;
    spare_caches = c;
    sunlock();
}

/* Which words of libc's TLS does a first malloc set? (tcache, the arena) */
static void learn_malloc_words(void)
{
    /* only glibc's own malloc: another (jemalloc, tcmalloc) keeps its
     * per-thread state its own way, often linked into lists of its own that
     * a scratch block must never join; it cleans up through the thread-exit
     * hooks that green threads run (key and thread_local destructors) */
    void *libc = R(dlopen)("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    void *libc_malloc = libc ? dlsym(libc, "malloc") : NULL;
    if (libc) dlclose(libc);
    if (!libc_malloc || dlsym(RTLD_DEFAULT, "malloc") != libc_malloc) return;
    struct libc_tls lt = {0, 0};
    dl_iterate_phdr(find_libc_tls, &lt);
    if (!lt.data || lt.memsz == 0 || lt.memsz > 4096) return;
    char *tp = gp__tls_current();
    ptrdiff_t base = (ptrdiff_t)(lt.data - (uintptr_t)tp);
    void *scratch = gp__tls_new();
    if (!scratch) return;
    size_t n = lt.memsz / sizeof(uintptr_t);
    uintptr_t *blk = (uintptr_t *)((char *)scratch + base);
    uintptr_t before[512];
    memcpy(before, blk, n * sizeof *before);
    gp__tls_load(scratch);
    void *volatile m = malloc(24); /* volatile: the pair must not be elided */
    free(m);
    gp__tls_load(tp);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (blk[i] != before[i]) {
            if (found == MWORDS) { found = 0; break; } /* not what we expect: hand nothing on */
            mword_off[found++] = base + (ptrdiff_t)(i * sizeof(uintptr_t));
        }
    nmwords = found;
    /* the scratch block's cache goes to the first green thread */
    exit_steal(scratch);
    deallocate_tls(scratch, 1);
}

/* glibc's per-thread buffers in the thread descriptor: strerror's and
 * strsignal's text for a number they do not know (asprintf'd, freed by the
 * next call in the same thread and by glibc's thread exit, which green
 * threads do not go through). Their offsets from the thread pointer are
 * learned once, on a fresh OS thread whose descriptor glibc made (so no
 * buffer is there yet): the one word each call sets. 0: not learned (another
 * glibc: nothing is freed, and nothing copied is taken for one). */
#define NBUFS 2
static ptrdiff_t buf_off[NBUFS];
static int nbufs;

/* Which one word of the descriptor did call() set from 0? -1 if not one. */
static ptrdiff_t word_set_by(void (*call)(void))
{
    uintptr_t *d = (uintptr_t *)gp__tls_current();
    size_t n = tcb_size / sizeof *d;
    uintptr_t *before = malloc(tcb_size);
    if (!before) return -1;
    memcpy(before, d, tcb_size);
    call();
    ptrdiff_t off = -1;
    int changed = 0;
    for (size_t i = 3; i < n; i++) /* past header.tcb, dtv, self */
        if (d[i] != before[i]) {
            changed++;
            if (!before[i]) off = (ptrdiff_t)(i * sizeof *d);
        }
    free(before);
    return changed == 1 ? off : -1;
}
static void unknown_errno(void) { (void)!strerror(1 << 20); }
static void unknown_signal(void) { (void)!strsignal(1 << 20); }

static void *learn_bufs_thread(void *arg)
{
    (void)arg;
    ptrdiff_t e = word_set_by(unknown_errno), s = word_set_by(unknown_signal);
    if (e > 0 && s > 0 && e != s) {
        buf_off[0] = e;
        buf_off[1] = s;
        nbufs = NBUFS; /* read by the caller after the join */
    }
    return NULL; /* glibc frees the two buffers at this thread's exit */
}

static void learn_bufs(void)
{
    pthread_t t;
    sigset_t all, old; /* none of the program's handlers runs on it */
    sigfillset(&all);
    R(pthread_sigmask)(SIG_SETMASK, &all, &old);
    int r = R(pthread_create)(&t, NULL, learn_bufs_thread, NULL);
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    if (r == 0) R(pthread_join)(t, NULL);
}

/* On the exiting green thread, on its own block, after the destructors: what
 * glibc's thread exit frees of libc's per-thread state (__libc_thread_freeres,
 * which it does not export), but the malloc cache (gp__tls_keep_cache): the
 * strerror and strsignal buffers, and dlerror's record of the thread's last
 * dl* failure, freed by dlerror itself (a call reports an error not yet
 * reported, the next one frees it and says NULL). */
void gp__tls_freeres(void)
{
    char *tp = gp__tls_current();
    for (int i = 0; i < nbufs; i++) {
        void **p = (void **)(tp + buf_off[i]);
        void *b = *p;
        *p = NULL;
        free(b);
    }
    for (int i = 0; i < 3 && dlerror(); i++) {}
}

/* Does a loaded module other than libc, the loader and gpatch itself have
 * thread-local variables? (the program's own __thread data, libstdc++'s
 * exception state, jemalloc's thread cache...) Its name, or NULL. */
struct tls_user { const char *name; };
static int find_tls_user(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct tls_user *u = arg;
    const char *n = info->dlpi_name ? info->dlpi_name : "";
    if (strstr(n, "/libc.so.") || strstr(n, "/ld-linux")) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_TLS || ph->p_memsz == 0) continue;
        uintptr_t lo = (uintptr_t)info->dlpi_tls_data, me = (uintptr_t)&gp__tls;
        if (lo && me >= lo && me < lo + ph->p_memsz) return 0; /* ours */
        u->name = *n ? n : "the program";
        return 1;
    }
    return 0;
}

/* main's thread, outside handlers: a loaded module (not libc, the loader
 * or gpatch) with thread-local variables, or NULL (preempt.c) */
const char *gp__tls_user(void)
{
    struct tls_user u = {NULL};
    dl_iterate_phdr(find_tls_user, &u);
    return u.name;
}

int gp__tls_setup(int want)
{
    gp__tls_mode = GP_TLS_SHARED;
    gp__tls_gp_off = (char *)&gp__tls - (char *)gp__tls_current();
    if (want == 0) return gp__tls_mode;
    allocate_tls = dlvsym(RTLD_DEFAULT, "_dl_allocate_tls", "GLIBC_PRIVATE");
    deallocate_tls = dlvsym(RTLD_DEFAULT, "_dl_deallocate_tls", "GLIBC_PRIVATE");
    call_tls_dtors = dlvsym(RTLD_DEFAULT, "__call_tls_dtors", "GLIBC_PRIVATE");
    const uint32_t *sz = dlvsym(RTLD_DEFAULT, "_thread_db_sizeof_pthread", "GLIBC_PRIVATE");
    long lo = field_offset("_thread_db_pthread_list");
    if (!allocate_tls || !deallocate_tls || !sz || *sz < 64 || *sz > 65536 || lo < 64) {
        if (gp_debug_on) gp_debugf("own TLS unavailable (this glibc does not offer its thread allocator): green threads share "
                  "their worker's TLS");
        return gp__tls_mode;
    }
    tcb_size = *sz;
    list_off = (size_t)lo;
    lm_tls_offset = field_offset("_thread_db_link_map_l_tls_offset");
    tid_off = field_offset("_thread_db_pthread_tid");
    if (tid_off >= 0 && (size_t)tid_off + sizeof(pid_t) <= tcb_size) gp__tls_tid_off = tid_off;
    lm_tls_modid = field_offset("_thread_db_link_map_l_tls_modid");
    const ptrdiff_t *roff = dlsym(RTLD_DEFAULT, "__rseq_offset");
    const unsigned *rsize = dlsym(RTLD_DEFAULT, "__rseq_size");
    if (roff && rsize && *rsize >= 8 && *roff >= 0 && (size_t)*roff + 8 <= tcb_size) rseq_off = *roff;
    snapshot = malloc(tcb_size);
    if (!snapshot) return gp__tls_mode;
    memcpy(snapshot, gp__tls_current(), tcb_size);
    gp__tls_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
    if (want < 0 && !gp__tls_fsgsbase) {
        /* Without wrfsbase a switch pays a system call to load the thread
         * pointer (about 20 µs on a VM that traps it, against 0.2 µs for the
         * whole switch): only worth it for a program that has thread-local
         * variables besides errno and h_errno, which are kept per green
         * thread either way. */
        struct tls_user u = {NULL};
        dl_iterate_phdr(find_tls_user, &u);
        if (!u.name) {
            if (gp_debug_on)
                gp_debugf("shared TLS: no loaded module has thread-local variables, and this CPU or kernel "
                          "has no wrfsbase (GPATCH_TLS=own forces own TLS)");
            free(snapshot);
            snapshot = NULL;
            return gp__tls_mode;
        }
        if (gp_debug_on) gp_debugf("own TLS: %s has thread-local variables", u.name);
    }
    gp__tls_mode = GP_TLS_OWN;
    learn_malloc_words();
    learn_bufs();
    /* the worker's own buffers are not a new block's to free */
    for (int i = 0; i < nbufs; i++) *(void **)((char *)snapshot + buf_off[i]) = NULL;
    if (gp_debug_on) gp_debugf("own TLS per green thread: %zu-byte descriptor, thread pointer loaded by %s; malloc's cache "
              "handed on in %d words, %d of glibc's buffers freed at exit", tcb_size,
              gp__tls_fsgsbase ? "wrfsbase" : "arch_prctl", nmwords, nbufs);
    return gp__tls_mode;
}

void *gp__tls_new(void)
{
    void **tcb = allocate_tls(NULL);
    if (!tcb) return NULL;
    void *dtv = tcb[1];
    memcpy(tcb, snapshot, tcb_size);
    tcb[0] = tcb;                  /* header.tcb */
    tcb[1] = dtv;                  /* header.dtv: its own */
    tcb[2] = tcb;                  /* header.self */
    ((int *)tcb)[6] = 1;           /* header.multiple_threads */
    void **link = (void **)((char *)tcb + list_off);
    link[0] = link[1] = link;      /* an empty list: fork's unlink touches nothing else */
    if (rseq_off >= 0) *(int32_t *)((char *)tcb + rseq_off + 4) = -2; /* cpu_id: ask the kernel */
    struct gp_tls *t = gp__tls_of(tcb);
    memset(t, 0, sizeof *t); /* worker stays 0 until the switch loads it: hooks pass through before */
    if (nmwords) {
        slock();
        struct mcache *c = spare_caches;
        if (c) spare_caches = c->next;
        sunlock();
        if (c) {
            for (int i = 0; i < nmwords; i++) *(uintptr_t *)((char *)tcb + mword_off[i]) = c->w[i];
            free(c);
        }
    }
    return tcb;
}

void __ctype_init(void);
void gp__tls_thread_start(void)
{
    __ctype_init();
}

void *gp__tls_new_idle(void)
{
    void *tcb = gp__tls_new();
    if (!tcb) return NULL;
    char *mine = gp__tls_current();
    sigset_t all, old; /* no handler of the program's may run on the block meanwhile */
    sigfillset(&all);
    R(pthread_sigmask)(SIG_SETMASK, &all, &old);
    gp__tls_load(tcb); /* nothing between the loads touches the runtime's own TLS */
    gp__tls_thread_start();
    gp__tls_load(mine);
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    return tcb;
}

void gp__tls_run_dtors(void)
{
    if (call_tls_dtors) call_tls_dtors();
}

void gp__tls_keep_cache(void)
{
    exit_steal(gp__tls_current());
}

#ifdef GP_TSAN /* ThreadSanitizer keeps its own per-thread state in TLS: one block only */
int gp__tls_want = 0;
#else
int gp__tls_want = -1;
#endif
void gp_configure_tls(int want) { gp__tls_want = want; }

void gp__tls_free(void *tcb)
{
    deallocate_tls(tcb, 1);
}

/* ---- dlopen'd modules with static (initial-exec) TLS ---------------------- */
struct stls { const void *map; size_t modid; ptrdiff_t off; };

/* The loaded modules whose TLS lies in the static area (at a fixed offset
 * below every thread pointer): a malloc'd array, *n entries; NULL if none.
 * The list is walked from a dl_iterate_phdr callback: the loader holds its
 * lock for the list's writers (dl_load_write_lock) while the callback runs,
 * so a dlopen or dlclose on another OS thread cannot change it under us. */
struct stls_walk { struct stls *v; size_t n; };
static int walk_static(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info;
    (void)size;
    struct stls_walk *sw = arg;
    struct stls *v = NULL;
    size_t cap = 0, n = 0;
    for (struct link_map *l = _r_debug.r_map; l; l = l->l_next) {
        size_t modid = *(size_t *)((char *)l + lm_tls_modid);
        ptrdiff_t off = *(ptrdiff_t *)((char *)l + lm_tls_offset);
        /* 0: no TLS offset; -1: forced dynamic (its block came from the DTV) */
        if (!modid || off == 0 || off == -1) continue;
        if (n == cap) {
            struct stls *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[n++] = (struct stls){l, modid, off};
    }
    sw->v = v;
    sw->n = n;
    return 1; /* once */
}
/* any thread */
static struct stls *static_modules(size_t *n)
{
    struct stls_walk sw = {NULL, 0};
    dl_iterate_phdr(walk_static, &sw);
    *n = sw.n;
    return sw.v;
}

/* a dl_iterate_phdr callback: module modid's TLS image */
struct tls_image { size_t modid; const void *image; size_t filesz, memsz; };
static int find_image(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct tls_image *ti = arg;
    if (info->dlpi_tls_modid != ti->modid) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS) {
            ti->image = (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
            ti->filesz = info->dlpi_phdr[i].p_filesz;
            ti->memsz = info->dlpi_phdr[i].p_memsz;
        }
    return 1;
}

/* any thread: does a dlopen here need gp_dlopen? (own TLS, glibc describes
 * its link map, and the caller is a gthread) */
int gp_dlopen_tracks(void)
{
    return gp__tls_mode == GP_TLS_OWN && lm_tls_offset >= 0 && lm_tls_modid >= 0 && gp_is_current_gthread();
}

/* gthread only (gp_dlopen_tracks): glibc's dlopen, then the TLS image of each
 * module it placed in static TLS goes into the block of every green thread
 * that existed before the call, as glibc does for the threads it knows.
 * Nothing here switches: no other green thread runs between the load and the
 * copy (a constructor of the library that blocks is the exception: see the
 * README's limits). */
void *gp_dlopen(const char *file, int mode)
{
    struct gp_worker *w = gp__w; /* main's: the list of every live gthread */
    int born_before = __atomic_load_n(&w->next_id, __ATOMIC_RELAXED);
    size_t nb = 0;
    struct stls *before = static_modules(&nb);
    /* glibc's loader lock records its holder's tid: a gthread that holds it
     * (in the constructors dlopen runs) must not move (sched.c, "Stealing") */
    struct gp_worker *me = GP_ME();
    struct gp_gthread *self = me && me->cur != &me->sched ? me->cur : NULL;
    if (self) self->pinned++;
    void *h = R(dlopen)(file, mode);
    if (self) self->pinned--;
    if (!h) {
        free(before);
        return h;
    }
    size_t na = 0;
    struct stls *after = static_modules(&na);
    for (size_t i = 0; i < na; i++) {
        int known = 0;
        for (size_t j = 0; j < nb && !known; j++)
            known = before[j].map == after[i].map && before[j].modid == after[i].modid && before[j].off == after[i].off;
        if (known) continue;
        struct tls_image ti = {after[i].modid, NULL, 0, 0};
        dl_iterate_phdr(find_image, &ti);
        if (!ti.image || ti.filesz > ti.memsz) continue;
        gp__rec_lock(); /* the list; a gthread on another worker may exit meanwhile */
        for (struct gp_list *n = w->all.next; n != &w->all; n = n->next) {
            struct gp_gthread *g = gp_container(n, struct gp_gthread, all);
            /* main's block is glibc's own (it has initialised it) */
            if (!g->tcb || g == w->g0 || g->id >= born_before) continue;
            char *dest = (char *)g->tcb - after[i].off;
            memcpy(dest, ti.image, ti.filesz);
            memset(dest + ti.filesz, 0, ti.memsz - ti.filesz);
        }
        gp__rec_unlock();
    }
    free(after);
    free(before);
    return h;
}
