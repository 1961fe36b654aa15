/* coro.c — what a green thread is made of: its record and its stack.
 *
 * Records live in one arena reserved at start (address space only, pages
 * appear as they are touched). That makes "is this pthread_t one of ours?"
 * a range check, never a dereference of a value the program made up, and
 * lets a record be reused without ever being unmapped. A freed slot stays
 * recognisable: its magic is cleared but the address is still the arena's,
 * so a stale pthread_t (a thread that detached itself and exited, one already
 * joined) is answered as glibc answers it, never handed to glibc.
 *
 * Records are read and freed by OS threads that are not the worker too (a
 * foreign OS thread joining or detaching a gthread, thread.c): allocation,
 * freeing and the join/detach/exit fields are changed under rec_lock.
 *
 * Stacks: see the section below.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "real.h"

#ifdef __SANITIZE_ADDRESS__ /* `make test-asan` */
#include <sanitizer/asan_interface.h>
#endif

#define ARENA_SLOTS (1u << 20) /* a million gthreads alive at once */

size_t gp__default_stack;
static struct gp_gthread *arena;
static unsigned arena_used;
/* via ->runq: [0] records whose timer was never initialised, [i + 1] those
 * whose timer is worker i's (a libuv handle belongs to its loop for good) */
static struct gp_list free_records[GP_MAX_WORKERS + 1];
static size_t page;
static int rec_lock_word;

/* any OS thread: the record lock (a spinlock: its sections are a few stores).
 * Acquire/release: what one holder wrote, the next holder reads. */
void gp__rec_lock(void)
{
    while (__atomic_exchange_n(&rec_lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&rec_lock_word, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
void gp__rec_unlock(void) { __atomic_store_n(&rec_lock_word, 0, __ATOMIC_RELEASE); }
/* the child of a fork: whoever held it in the parent is not here */
void gp__rec_lock_reset(void) { rec_lock_word = 0; }

size_t gp__page(void)
{
    if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

/* worker only (it takes the record lock: a foreign OS thread may be reading
 * the slot it reuses): a record for a gthread that will run on home */
struct gp_gthread *gp__gthread_alloc(struct gp_worker *home)
{
    if (!arena) {
        void *p = mmap(NULL, (size_t)ARENA_SLOTS * sizeof *arena, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return NULL;
        for (int i = 0; i <= GP_MAX_WORKERS; i++) gp_list_init(&free_records[i]);
        /* release: pairs with gp__gthread_slot's acquire load on other threads */
        __atomic_store_n(&arena, (struct gp_gthread *)p, __ATOMIC_RELEASE);
    }
    gp__rec_lock();
    struct gp_list *n = gp_list_pop(&free_records[home->index + 1]);
    if (!n) n = gp_list_pop(&free_records[0]);
    struct gp_gthread *g;
    if (n) {
        g = gp_container(n, struct gp_gthread, runq);
    } else {
        if (arena_used == ARENA_SLOTS) {
            gp__rec_unlock();
            return NULL;
        }
        g = &arena[arena_used];
        g->timer.loop = NULL; /* timer not yet initialised */
        /* release: a foreign reader that sees the new bound sees the slot */
        __atomic_store_n(&arena_used, arena_used + 1, __ATOMIC_RELEASE);
    }
    uv_timer_t keep = g->timer; /* an initialised timer stays with its record */
    memset(g, 0, sizeof *g);
    g->timer = keep;
    g->magic = GT_MAGIC;
    gp_list_init(&g->runq);
    gp_list_init(&g->all);
    g->handle = (uintptr_t)g;
    gp__rec_unlock();
    return g;
}

/* any OS thread, record lock held: the slot goes back to the free list. Its
 * `detached` field is left as it was: a stale handle to it is answered by it
 * (EINVAL for a thread that was detached, ESRCH for one that was joined). */
void gp__gthread_free_locked(struct gp_gthread *g)
{
    g->magic = 0;
    gp__set_state(g, GT_BIT(GT_DEAD) | GT_BIT(GT_FREE), GT_FREE); /* FREE: its creation failed */
    /* the record goes back to the worker its timer is on (the one it was
     * made on: a gthread that moved keeps its record's timer where it was) */
    int i = g->timer.loop ? gp_container(g->timer.loop, struct gp_worker, loop)->index + 1 : 0;
    gp_list_push(&free_records[i], &g->runq);
    gp__timer_give_back(g);
}

/* worker only */
void gp__gthread_free(struct gp_gthread *g)
{
    gp__rec_lock();
    gp__gthread_free_locked(g);
    gp__rec_unlock();
}

/* any OS thread: the arena slot h names, whether in use or freed; NULL when
 * h is not a slot's address (an OS thread's pthread_t, or made up) */
struct gp_gthread *gp__gthread_slot(uintptr_t h)
{
    struct gp_gthread *a = __atomic_load_n(&arena, __ATOMIC_ACQUIRE);
    if (!a || h < (uintptr_t)a || h >= (uintptr_t)(a + __atomic_load_n(&arena_used, __ATOMIC_ACQUIRE))) return NULL;
    if ((h - (uintptr_t)a) % sizeof *a) return NULL;
    return (struct gp_gthread *)h;
}

/* any OS thread (the record lock held, if not the worker): the live record h names */
struct gp_gthread *gp__gthread_from_handle(uintptr_t h)
{
    struct gp_worker *w = gp__w; /* main's: g0 */
    if (!w) return NULL;
    if (w->g0 && h == w->g0->handle) return w->g0;
    struct gp_gthread *g = gp__gthread_slot(h);
    /* reap: joined by an OS thread, only waiting for finish_dead to free it */
    return g && g->magic == GT_MAGIC && !__atomic_load_n(&g->reap, __ATOMIC_RELAXED) ? g : NULL;
}

/* ---- stacks --------------------------------------------------------------------
 *
 * A green thread's stack is a slot carved out of an arena: one mmap holds
 * many stacks of one size, so that a green thread does not cost a memory
 * mapping of its own (the kernel allows vm.max_map_count of them per
 * process, 65,530 by default: two per stack, stack and guard page, stopped
 * gpatch at ~32,700 threads). An overflow is still caught, in one of two ways:
 *
 *   guard page  a PROT_NONE page below the stack, as glibc's: the overflowing
 *               write faults, the SIGSEGV handler names the thread (monitor.c)
 *               and the process dies of SIGSEGV as stock. Each guard splits
 *               its arena's mapping: it costs two maps.
 *   canary      a 64-byte zone below the stack holding a value derived from a
 *               per-process secret and its address; switch_to checks it
 *               every time the thread leaves the CPU, and a broken one is
 *               reported with the same message, then abort(). It costs no
 *               map. It catches an overflow that wrote the zone; one that
 *               goes on without switching runs through the slots below and
 *               faults on the PROT_NONE page at the arena's bottom, which the
 *               SIGSEGV handler reports as the overflow it is (the stack
 *               pointer is below the thread's stack). A frame that jumps over
 *               the zone and returns before switching is not caught.
 *
 * GPATCH_STACK_GUARD chooses: auto (default) puts guard pages under the
 * stacks while the map budget allows, canaries under the rest; guard
 * always, as before (pthread_create fails with EAGAIN at the map limit);
 * canary never (the test of canary mode). The budget, read once at the first
 * stack: half of vm.max_map_count less the maps the process has then, two maps
 * a guard; the other half stays the program's (and the arenas', two each).
 *
 * Geometry, for a stack of `size` bytes (page multiple), period size + page:
 *   guarded arena  [guard][stack][guard][stack]...   guards placed as slots
 *                  are first carved (bottom up);
 *   canary arena   [PROT_NONE][page][stack slot 0][stack slot 1]...: slot j's
 *                  region is one page and `size` bytes; its stack is the top
 *                  `size` bytes but the last 64, which are the canary zone of
 *                  slot j+1 (so the zone shares the page of the stack below's
 *                  top frames, resident anyway: a canary costs no extra page).
 *                  Slot 0's zone is the top of the page below it.
 * The page of slack under a canary stack is its own: an overflow of less than
 * a page harms nobody; beyond, it writes the canary first.
 *
 * Not MAP_NORESERVE: the kernel's overcommit check must see a request as it
 * sees glibc's, so that a stack it could never back (a 64 TiB
 * pthread_attr_setstacksize) makes pthread_create say EAGAIN, as stock. An
 * arena that cannot be mapped (RLIMIT_AS, overcommit) is retried with half
 * as many slots, down to one, before EAGAIN. Stacks of more than 512 MiB, and
 * of more sizes than the class table holds, get an arena of their own,
 * unmapped at exit.
 *
 * A freed slot goes onto its size's free list (reused last-in first-out)
 * and gives its memory back (MADV_DONTNEED): all of it, or, for the first
 * HOT_MAX free stacks, all but the top 16 KiB, which the next thread is about
 * to touch anyway. A cold release keeps the top page when the slot above is
 * in use: that page holds its canary zone, which its gthread's switches
 * check without the lock (on another worker, maybe, at that very moment).
 *
 * Worker only, under stack_lock (a spinlock: allocation and release may one
 * day run on several workers; its sections are short).
 */
#define CANARY_BYTES 64u
#define CANARY_WORDS (CANARY_BYTES / sizeof(uint64_t))
#define ARENA_BYTES ((size_t)1 << 30) /* an arena's address space, at most */
#define ARENA_SLOTS_MAX 1024u
#define HOT_MAX 4096u
#define KEEP_HOT (16u * 1024)
#define CLASSES 16

struct arena {
    char *base; size_t len;
    char *first;            /* slot 0's region */
    size_t size, period;    /* a slot's stack bytes; from one slot's region to the next */
    unsigned n, carved;     /* slots; slots handed out at least once (the lowest) */
    int guarded, solo;
    struct sclass *cls;     /* NULL for a solo arena */
    unsigned char *busy;    /* per slot: in use */
};
struct free_slot { struct arena *a; unsigned idx, hot; };
struct sclass {
    size_t size;
    struct arena *open_guard, *open_canary; /* arenas with slots never carved */
    struct free_slot *free; unsigned nfree, cap;
};
static struct sclass classes[CLASSES];
static unsigned nclasses, hot_n;
static int stack_lock_word;
static int guard_mode = GP_STACK_GUARD_AUTO;
static int budget_known;
static unsigned long guard_budget, max_maps, maps_at_start;
static struct { unsigned long guards, canaries, arenas, guard_live, canary_live, guard_peak, canary_peak; int told; } st;
static uint64_t canary_secret;

/* the constructor (shim/init.c), before any thread */
void gp_configure_stack_guard(int mode) { guard_mode = mode; }

/* any OS thread: the stack lock. Acquire/release: what one holder wrote (the
 * free lists, the counts, an arena's busy bytes) the next holder reads. */
static void stack_lock(void)
{
    while (__atomic_exchange_n(&stack_lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&stack_lock_word, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void stack_unlock(void) { __atomic_store_n(&stack_lock_word, 0, __ATOMIC_RELEASE); }

/* under stack_lock: a small /proc file's first number, or the count of its lines */
static unsigned long proc_read(const char *path, int lines)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[4096];
    unsigned long v = 0;
    ssize_t n;
    while ((n = R(read)(fd, buf, sizeof buf)) > 0) {
        if (!lines) {
            buf[n < (ssize_t)sizeof buf ? n : n - 1] = 0;
            v = strtoul(buf, NULL, 10);
            break;
        }
        for (ssize_t i = 0; i < n; i++) v += buf[i] == '\n';
    }
    R(close)(fd);
    return v;
}

static const char *mode_name(void)
{
    return guard_mode == GP_STACK_GUARD_ON ? "guard" : guard_mode == GP_STACK_GUARD_OFF ? "canary" : "auto";
}

/* under stack_lock, at the first stack */
static void learn_budget(void)
{
    budget_known = 1;
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&s;
    if (r) memcpy(&s, r + 8, sizeof s); /* the loader's 16 random bytes: the second half */
    canary_secret = s ^ 0x5a17c0de5a17c0deull;
    max_maps = proc_read("/proc/sys/vm/max_map_count", 0);
    maps_at_start = proc_read("/proc/self/maps", 1);
    if (!max_maps) max_maps = 65530; /* no /proc: the usual default */
    if (guard_mode == GP_STACK_GUARD_ON) guard_budget = (unsigned long)-1;
    else if (guard_mode == GP_STACK_GUARD_OFF) guard_budget = 0;
    else guard_budget = max_maps / 2 > maps_at_start ? (max_maps / 2 - maps_at_start) / 2 : 0;
    if (gp_debug_on) {
        if (guard_mode == GP_STACK_GUARD_AUTO)
            gp_debugf("stacks: GPATCH_STACK_GUARD=auto: a guard page under the first %lu stacks (vm.max_map_count %lu, "
                      "%lu maps at start), a canary checked at every switch under the rest", guard_budget, max_maps,
                      maps_at_start);
        else
            gp_debugf("stacks: GPATCH_STACK_GUARD=%s: %s under every stack", mode_name(),
                      guard_budget ? "a guard page" : "a canary checked at every switch");
    }
}

/* the canary word of a zone: never 0, so memory given back never passes */
static uint64_t canary_of(const uint64_t *z) { return (canary_secret ^ (uint64_t)(uintptr_t)z) | 1; }

static char *slot_region(const struct arena *a, unsigned j) { return a->first + (size_t)j * a->period; }
static char *slot_lo(const struct arena *a, unsigned j)
{
    return slot_region(a, j) + gp__page() - (a->guarded ? 0 : CANARY_BYTES);
}
/* the canary zone of canary slot j: its 64 bytes under the slot's region */
static uint64_t *slot_zone(const struct arena *a, unsigned j) { return (uint64_t *)(slot_region(a, j) - CANARY_BYTES); }

static void write_zone(uint64_t *z)
{
    uint64_t v = canary_of(z);
    for (unsigned i = 0; i < CANARY_WORDS; i++) z[i] = v;
}

static struct arena *arena_new(size_t size, int guarded, unsigned n)
{
    size_t pg = gp__page(), period = size + pg, extra = guarded ? 0 : 2 * pg;
    void *m;
    for (;;) {
        m = mmap(NULL, extra + (size_t)n * period, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                 -1, 0);
        if (m != MAP_FAILED) break;
        if (n == 1) return NULL;
        n /= 2;
    }
    size_t len = extra + (size_t)n * period;
    if (!guarded && mprotect(m, pg, PROT_NONE) != 0) {
        munmap(m, len);
        return NULL;
    }
    madvise(m, len, MADV_NOHUGEPAGE); /* a huge page would make a stack's first touch 2 MiB */
    struct arena *a = calloc(1, sizeof *a + n);
    if (!a) {
        munmap(m, len);
        return NULL;
    }
    a->base = m;
    a->len = len;
    a->first = (char *)m + extra;
    a->size = size;
    a->period = period;
    a->n = n;
    a->guarded = guarded;
    a->busy = (unsigned char *)(a + 1);
    st.arenas++;
    return a;
}

static void arena_drop(struct arena *a)
{
    munmap(a->base, a->len);
    free(a);
    st.arenas--;
}

/* the class of stacks of this size, made on first use; NULL: a solo arena */
static struct sclass *class_of(size_t size)
{
    if (size + gp__page() > ARENA_BYTES / 2) return NULL;
    for (unsigned i = 0; i < nclasses; i++)
        if (classes[i].size == size) return &classes[i];
    if (nclasses == CLASSES) return NULL;
    classes[nclasses].size = size;
    return &classes[nclasses++];
}

/* a never-used slot: 0, -EAGAIN (no memory), -ENOMEM (its guard page was refused: the map limit) */
static int carve(struct sclass *c, size_t size, int guarded, struct arena **ap, unsigned *jp)
{
    struct arena **open = c ? (guarded ? &c->open_guard : &c->open_canary) : NULL;
    struct arena *a = open ? *open : NULL;
    if (!a || a->carved == a->n) {
        unsigned n = 1;
        if (c) {
            size_t k = ARENA_BYTES / (size + gp__page());
            n = k > ARENA_SLOTS_MAX ? ARENA_SLOTS_MAX : k ? (unsigned)k : 1;
        }
        if (!(a = arena_new(size, guarded, n))) return -EAGAIN;
        a->solo = !c;
        a->cls = c;
        if (open) *open = a;
    }
    unsigned j = a->carved;
    if (guarded) {
        if (mprotect(slot_region(a, j), gp__page(), PROT_NONE) != 0) {
            if (a->solo) arena_drop(a);
            return -ENOMEM;
        }
        st.guards++;
    } else {
        st.canaries++;
    }
    a->carved++;
    *ap = a;
    *jp = j;
    return 0;
}

/* worker only (gthread or scheduler context): a stack of at least size bytes for g */
int gp__stack_alloc(struct gp_gthread *g, size_t size)
{
    size_t pg = gp__page();
    if (size > ((size_t)1 << 62)) return -EAGAIN; /* no address space has it */
    size = (size + pg - 1) & ~(pg - 1);
    stack_lock();
    if (!budget_known) learn_budget();
    struct sclass *c = class_of(size);
    struct arena *a = NULL;
    unsigned j = 0;
    int r = 0;
    if (c && c->nfree) {
        struct free_slot *f = &c->free[--c->nfree];
        a = f->a;
        j = f->idx;
        hot_n -= f->hot;
#ifdef __SANITIZE_ADDRESS__
        /* a thread that ended by unwinding (cancellation) left its frames'
         * redzones poisoned: the next thread on this slot starts clean */
        ASAN_UNPOISON_MEMORY_REGION(slot_lo(a, j), size);
#endif
    } else {
        int guarded = st.guards < guard_budget;
        r = carve(c, size, guarded, &a, &j);
        if (r == -ENOMEM && guard_mode == GP_STACK_GUARD_AUTO) {
            /* the map limit came sooner than the budget said: canaries from now on */
            guard_budget = st.guards;
            r = carve(c, size, 0, &a, &j);
        }
        if (!r && !a->guarded && guard_mode == GP_STACK_GUARD_AUTO && !st.told) {
            st.told = 1;
            if (gp_debug_on)
                gp_debugf("stacks: the guard budget is spent (%lu guard pages): new stacks have a canary", st.guards);
        }
    }
    if (r) {
        stack_unlock();
        return -EAGAIN; /* as pthread_create when out of memory (or maps) */
    }
    a->busy[j] = 1;
    g->arena = a;
    g->slot = j;
    g->stack_lo = slot_lo(a, j);
    g->stack_size = size;
    if (a->guarded) {
        g->guard = pg;
        g->canary = NULL;
        if (++st.guard_live > st.guard_peak) st.guard_peak = st.guard_live;
    } else {
        g->guard = 0;
        g->canary = slot_zone(a, j);
        write_zone(g->canary);
        g->canary_val = canary_of(g->canary);
        if (++st.canary_live > st.canary_peak) st.canary_peak = st.canary_live;
    }
    stack_unlock();
    return 0;
}

/* worker only, on another stack than g's: g's stack goes back to its arena */
void gp__stack_release(struct gp_gthread *g)
{
    struct arena *a = g->arena;
    if (!a) return; /* the program's own stack, or main's */
    unsigned j = g->slot;
    g->arena = NULL;
    g->canary = NULL;
    stack_lock();
    a->busy[j] = 0;
    if (a->guarded) st.guard_live--;
    else st.canary_live--;
    struct sclass *c = a->cls;
    if (!c) {
        if (a->guarded) st.guards--;
        else st.canaries--;
        arena_drop(a);
        stack_unlock();
        return;
    }
    if (c->nfree == c->cap) {
        unsigned cap = c->cap ? c->cap * 2 : 64;
        struct free_slot *f = realloc(c->free, cap * sizeof *f);
        if (!f) { /* the slot stays unused: its memory goes back all the same */
            madvise(slot_lo(a, j), a->size, MADV_DONTNEED);
            a->busy[j] = 1;
            stack_unlock();
            return;
        }
        c->free = f;
        c->cap = cap;
    }
    size_t pg = gp__page();
    char *lo = a->guarded ? slot_lo(a, j) : slot_region(a, j); /* page-aligned */
    char *hi = slot_lo(a, j) + a->size;
    unsigned hot = hot_n < HOT_MAX;
    char *to = hot ? (char *)(((uintptr_t)hi - KEEP_HOT) & ~(uintptr_t)(pg - 1)) : a->guarded ? hi : slot_region(a, j) + a->period;
    if (!hot && !a->guarded && j + 1 < a->carved && a->busy[j + 1]) {
        /* the top page holds slot j+1's canary zone, and j+1 is in use,
         * maybe by a gthread of another worker, whose switches check it
         * without this lock: that page stays (zeroed, the zone would read
         * as an overflow until written again) */
        char *zone_page = (char *)((uintptr_t)slot_zone(a, j + 1) & ~(uintptr_t)(pg - 1));
        if (to > zone_page) to = zone_page;
    }
    if (to > lo) madvise(lo, (size_t)(to - lo), MADV_DONTNEED);
    c->free[c->nfree++] = (struct free_slot){a, j, hot};
    hot_n += hot;
    stack_unlock();
}

/* signal-safe (the SIGSEGV handler, on the worker): is a fault at addr, with
 * the stack pointer at sp, g running, an overflow of g's stack? */
int gp__stack_overflowed(const struct gp_gthread *g, const char *addr, const char *sp)
{
    if (!g->arena) return 0; /* the program's own stack: not ours to judge */
    const char *lo = g->stack_lo;
    size_t pg = gp__page();
    if (addr < lo && addr >= lo - 17 * pg) return 1; /* its guard page, or just below */
    if (g->canary && !gp__canary_ok(g)) return 1;
    /* ran through the slots below it to the PROT_NONE page at its arena's
     * bottom: the fault is in its arena, the stack pointer below its stack
     * (a frame's worth below the arena at most) */
    const struct arena *a = g->arena;
    return sp && addr >= a->base && addr < lo && sp < lo && sp + ((size_t)1 << 20) > a->base;
}

/* any thread (the stats at exit; the counts are read unlocked, a report):
 * which mode, and how many stacks of each kind */
int gp__stack_report(char *buf, size_t len)
{
    if (!budget_known) return snprintf(buf, len, "stacks (GPATCH_STACK_GUARD=%s): none made", mode_name());
    return snprintf(buf, len,
                    "stacks (GPATCH_STACK_GUARD=%s): %lu with a guard page (budget %lu of vm.max_map_count %lu, "
                    "%lu maps at start), %lu with a canary; peak alive %lu guarded, %lu canary; %lu arenas",
                    mode_name(), st.guards, guard_mode == GP_STACK_GUARD_ON ? 0ul : guard_budget, max_maps,
                    maps_at_start, st.canaries, st.guard_peak, st.canary_peak, st.arenas);
}

/* the child of a fork: whoever held the lock in the parent is not here */
void gp__stack_lock_reset(void) { stack_lock_word = 0; }
