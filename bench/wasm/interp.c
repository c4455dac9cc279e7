/* interp.c: a small stack-bytecode interpreter running a loop-heavy program
 * (switch dispatch, unpredictable branches). arg: iterations */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
enum { PUSH, LOAD, STORE, ADD, SUB, MUL, XOR, SHR, JNZ, DUP, DROP, HALT };
int main(int argc, char **argv) {
  int32_t iters = argc > 1 ? atoi(argv[1]) : 3000000;
  /* vars: 0 = counter, 1 = acc */
  const int32_t prog[] = {
    PUSH, 0, STORE, 1,            /* acc = 0 */
    PUSH, 0, STORE, 0,            /* counter = iters (set below) */
    /* loop @8: acc = (acc * 31 ^ counter) + (acc >> 3); counter -= 1; jnz loop */
    LOAD, 1, PUSH, 31, MUL, LOAD, 0, XOR, LOAD, 1, PUSH, 3, SHR, ADD, STORE, 1,
    LOAD, 0, PUSH, 1, SUB, DUP, STORE, 0, JNZ, 8,
    HALT};
  int32_t code[sizeof prog / sizeof prog[0]];
  for (size_t i = 0; i < sizeof prog / sizeof prog[0]; i++) code[i] = prog[i];
  code[5] = iters;
  int32_t stack[64], sp = 0, vars[4] = {0}, pc = 0;
  for (;;) {
    int32_t op = code[pc++];
    switch (op) {
    case PUSH: stack[sp++] = code[pc++]; break;
    case LOAD: stack[sp++] = vars[code[pc++]]; break;
    case STORE: vars[code[pc++]] = stack[--sp]; break;
    case ADD: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] + (uint32_t)stack[sp]); break;
    case SUB: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] - (uint32_t)stack[sp]); break;
    case MUL: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] * (uint32_t)stack[sp]); break;
    case XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
    case SHR: sp--; stack[sp - 1] = (int32_t)((uint32_t)stack[sp - 1] >> stack[sp]); break;
    case JNZ: { int32_t t = code[pc++]; if (stack[--sp]) pc = t; break; }
    case DUP: stack[sp] = stack[sp - 1]; sp++; break;
    case DROP: sp--; break;
    case HALT: printf("interp %d iterations: acc %d\n", iters, vars[1]); return 0;
    default: return 1;
    }
  }
}
