/* Huge pages for the big buffers. Debian's kernels give transparent huge pages only where a program asks
 * (enabled = madvise), so a rank's embeddings sat in 4 KiB pages: 131,072 of them for 500k rows of 256
 * float16. Each first touch is a page fault (in a VM, an exit to the host as well), and a page the kernel
 * has not seen used for a while costs one again. Measured on this project's VM (256 MiB, a stride-64
 * pass): read() into small pages 0.9-1.1 s and the first pass after it 0.47-0.52 s; into huge pages
 * 0.09-0.31 s and 0.033 s; the passes after that 0.009 s either way. */
#define _DEFAULT_SOURCE 1 /* madvise */
#include "core/bigmem.h"

#include <stdlib.h>
#include <sys/mman.h>

void *big_alloc(size_t n)
{
  if (n < BIG_ALLOC_MIN) return malloc(n);
  size_t huge = (size_t)2 << 20, whole = (n + huge - 1) / huge * huge; /* whole huge pages */
  void *p = NULL;
  if (posix_memalign(&p, huge, whole)) return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, whole, MADV_HUGEPAGE); /* advice: without it, small pages */
#endif
  return p;
}
