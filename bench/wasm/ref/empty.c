/* bench/wasm/ref/empty.c: a program that does nothing, built like the benchmarks.
 * run.sh times it on every runtime: that runtime's start-up (process start, module
 * load, compile, instantiate), subtracted from each benchmark's time for the ratios. */
int main(void) { return 0; }
