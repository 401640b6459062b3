/* core/bigmem: small buffers from malloc, big ones 2 MiB-aligned, whole, and in huge pages where the
 * kernel's transparent huge pages are not off (read back from /proc/self/smaps). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

/* The transparent huge page mode: "always", "madvise" or "never" (the bracketed word), "" if unknown. */
static void thp_mode(char *out, size_t n)
{
  char line[256] = "";
  out[0] = 0;
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return;
  if (fgets(line, sizeof line, f)) {
    char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
    if (a && b && (size_t)(b - a) < n) {
      memcpy(out, a + 1, (size_t)(b - a - 1));
      out[b - a - 1] = 0;
    }
  }
  fclose(f);
}

/* kB of AnonHugePages in the mapping of /proc/self/smaps that holds p, or -1 if not found. */
static long huge_kb(const void *p)
{
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return -1;
  char line[512];
  int inside = 0;
  long kb = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
      continue;
    }
    if (inside && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) break;
  }
  fclose(f);
  return inside ? kb : -1;
}

static void test_small(void **state)
{
  (void)state;
  unsigned char *p = big_alloc(1000);
  assert_non_null(p);
  memset(p, 7, 1000);
  assert_int_equal(p[999], 7);
  free(p);
}

static void test_big(void **state)
{
  (void)state;
  size_t n = BIG_ALLOC_MIN * 4 + 12345; /* not a multiple of 2 MiB: the last page is whole too */
  unsigned char *p = big_alloc(n);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
  memset(p, 0xA5, n);
  assert_int_equal(p[0], 0xA5);
  assert_int_equal(p[n - 1], 0xA5);
  char mode[32];
  thp_mode(mode, sizeof mode);
  long kb = huge_kb(p);
  printf("transparent huge pages: %s; the buffer's AnonHugePages: %ld kB of %zu\n", mode[0] ? mode : "unknown", kb,
         n / 1024);
  /* where the kernel gives huge pages to memory that asks, some of this buffer is in them (not all need
   * be: the kernel falls back to small pages when it finds no free 2 MiB) */
  if (!strcmp(mode, "madvise") || !strcmp(mode, "always")) assert_true(kb > 0);
  free(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small),
      cmocka_unit_test(test_big),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
