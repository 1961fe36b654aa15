/* static_hello — a statically linked program (see Makefile): the loader
 * ignores LD_PRELOAD for it, so `gpatch run` must refuse it. */
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
