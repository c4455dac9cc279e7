/* hash.c: FNV-1a and a 64-bit multiply-rotate hash (xxhash-like) over a buffer
 * (64-bit integer arithmetic). arg: rounds */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t mixhash(const uint8_t *p, size_t n, uint64_t seed) {
  const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full;
  uint64_t h = seed + P1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k = (uint64_t)p[i] | (uint64_t)p[i+1] << 8 | (uint64_t)p[i+2] << 16 | (uint64_t)p[i+3] << 24 |
                 (uint64_t)p[i+4] << 32 | (uint64_t)p[i+5] << 40 | (uint64_t)p[i+6] << 48 | (uint64_t)p[i+7] << 56;
    h ^= rotl(k * P2, 31) * P1;
    h = rotl(h, 27) * P1 + 0x85EBCA77C2B2AE63ull;
  }
  for (; i < n; i++) h = rotl(h ^ (p[i] * P1), 11) * P2;
  h ^= h >> 33; h *= P2; h ^= h >> 29;
  return h;
}
static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
  return h;
}
int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 40;
  size_t n = 1 << 20;
  uint8_t *buf = malloc(n);
  uint64_t acc = 0;
  for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i ^ (i >> 9));
  for (int r = 0; r < rounds; r++) {
    acc ^= mixhash(buf, n, acc) + fnv1a(buf, n);
    buf[r] ^= (uint8_t)acc;
  }
  printf("hash %d rounds: %016llx\n", rounds, (unsigned long long)acc);
  free(buf);
  return 0;
}
