/* asan_keys.so — `make test-asan` only, preloaded before the sanitized
 * libgpatch.so and libasan.so.
 *
 * AddressSanitizer's runtime keeps its per-OS-thread state (the current
 * thread's context, its TLS bookkeeping) in a pthread key, and looks it up
 * with pthread_getspecific. Under gpatch every pthread key is per green
 * thread (shim/sync.c), so ASan's lookups on a green thread went to gpatch
 * and came back with another thread's value or none, and at a green thread's
 * exit gpatch ran ASan's OS-thread destructor: ASan crashed in free() and in
 * DTLS_Destroy before any test could run. Here the key calls that come from
 * libasan itself (told by the caller's address) go to glibc; every other
 * caller's go on to gpatch, unchanged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

static uintptr_t asan_lo, asan_hi;
static int (*g_create)(pthread_key_t *, void (*)(void *)), (*n_create)(pthread_key_t *, void (*)(void *));
static void *(*g_get)(pthread_key_t), *(*n_get)(pthread_key_t);
static int (*g_set)(pthread_key_t, const void *), (*n_set)(pthread_key_t, const void *);

static int find_asan(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libasan")) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!asan_lo || lo < asan_lo) asan_lo = lo;
        if (hi > asan_hi) asan_hi = hi;
    }
    return 1;
}

static void init(void)
{
    if (g_get) return;
    dl_iterate_phdr(find_asan, NULL);
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    g_create = dlsym(libc, "pthread_key_create");
    g_set = dlsym(libc, "pthread_setspecific");
    n_create = dlsym(RTLD_NEXT, "pthread_key_create");
    n_set = dlsym(RTLD_NEXT, "pthread_setspecific");
    n_get = dlsym(RTLD_NEXT, "pthread_getspecific");
    __atomic_store_n(&g_get, (void *(*)(pthread_key_t))dlsym(libc, "pthread_getspecific"), __ATOMIC_RELEASE);
}

static int from_asan(void *ret) { return (uintptr_t)ret >= asan_lo && (uintptr_t)ret < asan_hi; }

int pthread_key_create(pthread_key_t *k, void (*dtor)(void *))
{
    init();
    return (from_asan(__builtin_return_address(0)) ? g_create : n_create)(k, dtor);
}

void *pthread_getspecific(pthread_key_t k)
{
    init();
    return (from_asan(__builtin_return_address(0)) ? g_get : n_get)(k);
}

int pthread_setspecific(pthread_key_t k, const void *v)
{
    init();
    return (from_asan(__builtin_return_address(0)) ? g_set : n_set)(k, v);
}
