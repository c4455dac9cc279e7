/* wasi_determinism.c: prints what the WASI host supplies for time and randomness,
 * and what happens on file-system calls. Two runs with the same seed and clock must
 * print the same; a different seed must change the random bytes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  unsigned char r[40];
  struct timespec ts;
  if (getentropy(r, sizeof r) != 0) { printf("getentropy failed\n"); return 1; }
  printf("random:");
  for (size_t i = 0; i < sizeof r; i++) printf("%02x", r[i]);
  printf("\n");
  clock_gettime(CLOCK_REALTIME, &ts);
  printf("realtime: %lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("monotonic: %lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
  FILE *f = fopen("/etc/passwd", "r");
  printf("fopen: %s (errno %s)\n", f ? "opened" : "failed", f ? "-" : (errno ? "set" : "0"));
  return 0;
}
