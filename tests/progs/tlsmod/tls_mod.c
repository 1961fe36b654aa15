/* tls_mod — a library with thread-local data, dlopen'd by tls_dlopen. Built
 * twice: libtls_gd.so with the default (global-dynamic) TLS model, whose
 * block each thread gets on first use through __tls_get_addr, and
 * libtls_ie.so with -ftls-model=initial-exec, whose block the loader places
 * in every thread's static TLS when the library is loaded. */
#include <stdio.h>
#include <string.h>

static __thread int id = -1;              /* initialised data: the TLS image */
static __thread char name[24] = "fresh";
static __thread long count;               /* zero-initialised */

/* 1 when this thread's copy is still the image (nothing written yet) */
int mod_fresh(void) { return id == -1 && strcmp(name, "fresh") == 0 && count == 0; }
void mod_set(int i)
{
    id = i;
    snprintf(name, sizeof name, "thread-%d", i);
}
int mod_check(int i)
{
    char want[24];
    snprintf(want, sizeof want, "thread-%d", i);
    return id == i && strcmp(name, want) == 0;
}
long mod_count(void) { return ++count; }
void *mod_addr(void) { return &id; }
