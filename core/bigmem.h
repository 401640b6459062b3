/* Large buffers (the embeddings a rank holds) backed by transparent huge pages where the kernel offers
 * them: see core/bigmem.c for why. */
#ifndef MA_BIGMEM_H
#define MA_BIGMEM_H

#include <stddef.h>

/* Bytes from which big_alloc asks for huge pages. */
#define BIG_ALLOC_MIN ((size_t)8 << 20)

/* n bytes (n > 0), or NULL. From BIG_ALLOC_MIN on, aligned to 2 MiB and advised MADV_HUGEPAGE (a
 * kernel whose transparent huge pages are off, or not "madvise"/"always", gives small pages: the same
 * memory, only slower); below, malloc's. Released by free(). Not collective. */
void *big_alloc(size_t n);

#endif
