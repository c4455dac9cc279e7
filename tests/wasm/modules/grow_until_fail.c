/* grow_until_fail.c: allocates 1 MiB blocks until malloc fails and prints how many
 * it got; with --max-memory the count is bounded and the same on every run. The
 * blocks are kept and read back so the compiler cannot elide the allocations. */
#include <stdio.h>
#include <stdlib.h>

static char *blocks[4096];

int main(void) {
  int n = 0;
  unsigned sum = 0;
  while (n < 4000) {
    char *p = malloc(1 << 20);
    if (!p) break;
    p[0] = (char)n;                 /* touch the block at both ends */
    p[(1 << 20) - 1] = (char)(n + 1);
    blocks[n++] = p;
  }
  for (int i = 0; i < n; i++)
    sum += (unsigned char)blocks[i][0] + (unsigned char)blocks[i][(1 << 20) - 1];
  printf("allocated %d MiB (check %u)\n", n, sum);
  for (int i = 0; i < n; i++) free(blocks[i]);
  return 0;
}
