/* grow_until_fail.c: allocates 1 MiB blocks until malloc fails and prints how many
 * it got; with --max-memory the count is bounded and the same on every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  int n = 0;
  for (;;) {
    char *p = malloc(1 << 20);
    if (!p) break;
    memset(p, n, 1 << 20);
    n++;
    if (n >= 4000) break;
  }
  printf("allocated %d MiB\n", n);
  return 0;
}
