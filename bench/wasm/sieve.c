/* sieve.c: sieve of Eratosthenes, repeated (byte array, tight loops). arg: limit */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
  unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 2000000;
  unsigned char *s = malloc(n + 1);
  unsigned count = 0;
  for (int rep = 0; rep < 5; rep++) {
    memset(s, 1, n + 1);
    s[0] = s[1] = 0;
    for (unsigned i = 2; (unsigned long)i * i <= n; i++)
      if (s[i]) for (unsigned j = i * i; j <= n; j += i) s[j] = 0;
    count = 0;
    for (unsigned i = 0; i <= n; i++) count += s[i];
  }
  printf("primes <= %u: %u\n", n, count);
  free(s);
  return 0;
}
