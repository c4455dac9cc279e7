/* args_env_stdin.c: echoes argv, the AOX_* environment, stdin statistics, then exits
 * with the code given as argv[1]. Built for wasm32-wasi and natively; outputs must match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv) {
  unsigned sum = 0, n = 0, lines = 0;   /* 32-bit on both targets */
  int c;
  printf("argc=%d\n", argc);
  for (int i = 1; i < argc; i++) printf("argv[%d]=%s (%zu bytes)\n", i, argv[i], strlen(argv[i]));
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, "AOX_", 4) == 0) printf("env %s\n", *e);
  while ((c = getchar()) != EOF) {
    sum = sum * 31 + (unsigned char)c;
    n++;
    if (c == '\n') lines++;
  }
  printf("stdin: %u bytes, %u lines, hash %u\n", n, lines, sum % 1000000007u);
  fprintf(stderr, "this goes to stderr\n");
  fflush(stdout);
  return argc > 1 ? atoi(argv[1]) : 0;
}
