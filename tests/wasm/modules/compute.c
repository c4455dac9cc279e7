/* compute.c: a mixed workload (malloc/free, qsort, string formatting, integer and
 * floating-point maths, recursion) whose printed results must match a native build. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1103515245u + 12345u; return rng >> 8; }

static int cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static uint64_t fib(int n) { return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2); }

typedef struct node { struct node *next; char name[24]; double v; } node;

int main(void) {
  enum { N = 20000 };
  uint32_t *a = malloc(N * sizeof *a);
  uint64_t acc = 0;
  for (int i = 0; i < N; i++) a[i] = next();
  qsort(a, N, sizeof *a, cmp);
  for (int i = 0; i < N; i += 997) acc = acc * 1000003u + a[i];
  printf("sorted ok=%d acc=%llu\n", a[0] <= a[N - 1], (unsigned long long)acc);
  free(a);

  node *head = NULL;
  for (int i = 0; i < 500; i++) {
    node *nd = malloc(sizeof *nd);
    snprintf(nd->name, sizeof nd->name, "item-%04d", i * 7 % 500);
    nd->v = sqrt((double)i) * 1.5 + sin(i * 0.01);
    nd->next = head;
    head = nd;
  }
  double total = 0;
  size_t namelen = 0;
  while (head) {
    node *nx = head->next;
    total += head->v;
    namelen += strlen(head->name);
    free(head);
    head = nx;
  }
  printf("list total=%.6f namelen=%zu\n", total, namelen);
  printf("fib(25)=%llu\n", (unsigned long long)fib(25));
  printf("floats: %.3f %.3e %g %a\n", 3.14159265, 6.02214076e23, 1.0 / 3.0, 0.1);
  printf("ints: %d %u %x %lld\n", -42, 4000000000u, 0xdeadbeef, -1234567890123ll);
  char buf[64];
  snprintf(buf, sizeof buf, "%08.3f|%-6s|%+d", 2.5, "ab", 7);
  printf("fmt: %s\n", buf);
  return 0;
}
