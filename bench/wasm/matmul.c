/* matmul.c: dense double matrix multiply (f64 arithmetic, 2-D indexing). arg: n */
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 250;
  double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n),
         *c = calloc((size_t)n * n, sizeof(double));
  for (int i = 0; i < n * n; i++) { a[i] = (i % 17) * 0.5 - 3; b[i] = (i % 13) * 0.25 + 1; }
  for (int i = 0; i < n; i++)
    for (int k = 0; k < n; k++) {
      double x = a[i * n + k];
      for (int j = 0; j < n; j++) c[i * n + j] += x * b[k * n + j];
    }
  double tr = 0;
  for (int i = 0; i < n; i++) tr += c[i * n + i] + c[i * n + (n - 1 - i)];
  printf("matmul %d: checksum %.6f\n", n, tr);
  free(a); free(b); free(c);
  return 0;
}
