/* fcontext.h — the three C entry points of boost.context's fcontext assembly,
 * linked from Debian's libboost_context.a (position independent, no C++
 * runtime). Declared here because boost ships them only in C++ headers. */
#ifndef GP_FCONTEXT_H
#define GP_FCONTEXT_H
#include <stddef.h>

typedef void *fcontext_t;
typedef struct {
    fcontext_t fctx; /* the context that jumped to us, suspended */
    void *data;      /* what it passed */
} transfer_t;

transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));
transfer_t ontop_fcontext(fcontext_t const to, void *vp, transfer_t (*fn)(transfer_t));
#endif
