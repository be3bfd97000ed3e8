/* Storage for the tape's growing buffers (tg_buffers.h) and id maps
 * (tg_idmap.h).
 *
 * Why not plain realloc: glibc serves a large block with its own page
 * mapping, and when such a block is freed it raises its mmap threshold to
 * that block's size (up to 32 MB).  A tape's id map doubles by allocating
 * the new table and freeing the old one, so after a few doublings every
 * buffer below half the map's size is served from the brk heap instead; a
 * buffer there that doubles with realloc usually cannot grow in place, is
 * copied, and the old block stays resident in the heap.  At 1e6 recorded
 * scalar ops that was ~11 bytes per op of RSS nobody used.
 *
 * So on Linux a block of TG_BIG_BYTES or more is its own anonymous mapping:
 * mremap grows it (no copy of the pages, nothing left behind) and munmap
 * gives it back without touching malloc's threshold.  Smaller blocks, and
 * every block on other systems, use malloc/realloc/free as before.
 *
 * Whether a block is a mapping is a function of its size in bytes, which
 * every caller knows (capacity times item size): callers pass the same size
 * to tg_big_free that they allocated with.  Sizes only grow. */
#ifndef TG_ALLOC_H
#define TG_ALLOC_H

#include <stdlib.h>
#include <string.h>

#define TG_BIG_BYTES ((size_t)1 << 20)

#if defined(__linux__)
#  ifndef _GNU_SOURCE
#    define _GNU_SOURCE 1   /* mremap; Python.h normally defines it already */
#  endif
#  include <sys/mman.h>
#  define TG_BIG_MAPPED 1
#else
#  define TG_BIG_MAPPED 0
#endif

/* A new block of `bytes`, zero-filled when `zero` (fresh mappings always are). */
static inline void *tg_big_alloc(size_t bytes, int zero) {
#if TG_BIG_MAPPED
    if (bytes >= TG_BIG_BYTES) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
#endif
    return zero ? calloc(bytes, 1) : malloc(bytes);
}

static inline void tg_big_free(void *p, size_t bytes) {
    if (p == NULL) return;
#if TG_BIG_MAPPED
    if (bytes >= TG_BIG_BYTES) {
        munmap(p, bytes);
        return;
    }
#endif
    (void)bytes;
    free(p);
}

/* realloc for a block of old_bytes (p may be NULL with old_bytes 0) growing
 * to new_bytes >= old_bytes; NULL (and p untouched) when memory runs out. */
static inline void *tg_big_grow(void *p, size_t old_bytes, size_t new_bytes) {
#if TG_BIG_MAPPED
    if (new_bytes >= TG_BIG_BYTES) {
        void *q;
        if (p != NULL && old_bytes >= TG_BIG_BYTES) {
            q = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
            return q == MAP_FAILED ? NULL : q;
        }
        q = tg_big_alloc(new_bytes, 0);
        if (q == NULL) return NULL;
        if (p != NULL) {
            memcpy(q, p, old_bytes);
            free(p);
        }
        return q;
    }
#endif
    (void)old_bytes;
    return realloc(p, new_bytes);
}

#endif /* TG_ALLOC_H */
