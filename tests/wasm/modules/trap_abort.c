/* trap_abort.c: abort() must end the run as a trap (exit status 134, like a
 * native SIGABRT), after the output flushed before it. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  printf("before abort\n");
  fflush(stdout);
  abort();
}
