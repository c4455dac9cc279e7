/* setjmp_longjmp.c: setjmp/longjmp across several frames, repeatedly, with
 * values preserved in volatile locals. */
#include <setjmp.h>
#include <stdio.h>

static jmp_buf env;
static int depth_reached;

static void descend(int n, int target) {
  depth_reached = n;
  if (n == target) longjmp(env, target + 100);
  descend(n + 1, target);
}

int main(void) {
  volatile int rounds = 0;
  volatile long total = 0;
  for (int t = 1; t <= 5; t++) {
    int r = setjmp(env);
    if (r == 0) {
      descend(0, t * 3);
      printf("not reached\n");
    } else {
      rounds++;
      total += r + depth_reached;
      printf("round %d: longjmp value %d from depth %d\n", t, r, depth_reached);
    }
  }
  printf("rounds=%d total=%ld\n", rounds, total);
  return 0;
}
