/* exit_deep.c: exit() from deep inside recursion; atexit handlers still run. */
#include <stdio.h>
#include <stdlib.h>

static void bye(void) { printf("atexit ran\n"); }
static int dive(int n) { if (n == 0) { printf("exiting with 7\n"); exit(7); } return dive(n - 1) + 1; }

int main(void) {
  atexit(bye);
  return dive(1000);
}
