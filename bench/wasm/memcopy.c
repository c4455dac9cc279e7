/* memcopy.c: memcpy/memmove/memset over a 4 MiB buffer (bulk memory). arg: rounds */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 200;
  size_t n = 4u << 20;
  uint8_t *a = malloc(n), *b = malloc(n);
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) a[i] = (uint8_t)(i * 7);
  for (int r = 0; r < rounds; r++) {
    memcpy(b, a, n);
    memmove(b + 1 + r % 64, b, n - 64);
    memset(a + (r * 4096) % (n - 8192), r, 8192);
    sum += b[(size_t)r * 9973 % n] + a[(size_t)r * 7919 % n];
  }
  printf("memcopy %d rounds: %llu\n", rounds, (unsigned long long)sum);
  free(a); free(b);
  return 0;
}
