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
 * Stacks are mmap'd MAP_STACK with a PROT_NONE guard page below them, as
 * glibc maps a thread's: a gthread costs the pages it touches. Not
 * MAP_NORESERVE: the kernel's overcommit check must see the request as it
 * sees glibc's, so that a stack it could never back (a 64 TiB
 * pthread_attr_setstacksize) makes pthread_create say EAGAIN, as stock,
 * rather than succeed. Stacks of the default size are recycled through a pool; a
 * recycled stack gives back (MADV_DONTNEED) everything but its top pages,
 * which the next gthread is about to touch anyway.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_SLOTS (1u << 20) /* a million gthreads alive at once */
#define POOL_MAX 4096
#define KEEP_HOT (16u * 1024)  /* top of a recycled stack kept resident */

size_t gp__default_stack;
static struct gp_gthread *arena;
static unsigned arena_used;
static struct gp_list free_records;  /* via ->runq */
static struct gp_list stack_pool;    /* via the stack's own top bytes */
static unsigned pool_n;
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
 * the slot it reuses) */
struct gp_gthread *gp__gthread_alloc(void)
{
    if (!arena) {
        void *p = mmap(NULL, (size_t)ARENA_SLOTS * sizeof *arena, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return NULL;
        gp_list_init(&free_records);
        gp_list_init(&stack_pool);
        /* release: pairs with gp__gthread_slot's acquire load on other threads */
        __atomic_store_n(&arena, (struct gp_gthread *)p, __ATOMIC_RELEASE);
    }
    gp__rec_lock();
    struct gp_list *n = gp_list_pop(&free_records);
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
    gp_list_push(&free_records, &g->runq);
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
    struct gp_worker *w = gp__w;
    if (!w) return NULL;
    if (w->g0 && h == w->g0->handle) return w->g0;
    struct gp_gthread *g = gp__gthread_slot(h);
    /* reap: joined by an OS thread, only waiting for finish_dead to free it */
    return g && g->magic == GT_MAGIC && !__atomic_load_n(&g->reap, __ATOMIC_RELAXED) ? g : NULL;
}

/* A pooled stack keeps its size in a small header at its top. */
struct pooled { struct gp_list link; void *base; size_t size; };

int gp__stack_alloc(struct gp_gthread *g, size_t size)
{
    size_t pg = gp__page();
    size = (size + pg - 1) & ~(pg - 1);
    if (size == gp__default_stack && pool_n) {
        struct pooled *p = gp_container(gp_list_pop(&stack_pool), struct pooled, link);
        pool_n--;
        g->map_base = p->base;
        g->map_size = p->size;
    } else {
        size_t total = size + pg;
        void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (base == MAP_FAILED) return -EAGAIN; /* as pthread_create when out of memory */
        if (mprotect(base, pg, PROT_NONE) != 0) {
            munmap(base, total);
            return -EAGAIN;
        }
        g->map_base = base;
        g->map_size = total;
    }
    g->stack_lo = (char *)g->map_base + pg;
    g->stack_size = g->map_size - pg;
    return 0;
}

void gp__stack_release(struct gp_gthread *g)
{
    if (!g->map_base) return; /* the program's own stack, or main's */
    size_t pg = gp__page();
    if (g->stack_size == gp__default_stack && pool_n < POOL_MAX) {
        if (g->stack_size > KEEP_HOT)
            madvise(g->stack_lo, g->stack_size - KEEP_HOT, MADV_DONTNEED);
        struct pooled *p = (struct pooled *)((char *)g->stack_lo + g->stack_size) - 1;
        p->base = g->map_base;
        p->size = g->map_size;
        gp_list_push(&stack_pool, &p->link);
        pool_n++;
    } else {
        munmap(g->map_base, g->map_size);
    }
    (void)pg;
    g->map_base = NULL;
}
