/* bench/wasm/ref/cputime.c: cputime CMD [ARGS...] runs CMD and prints its user+sys CPU
 * time in seconds (of CMD and its waited-for children, from wait4's rusage) to fd 3,
 * so CMD's own stdout/stderr stay untouched. Exit status: CMD's (125 if it could not
 * be run). run.sh uses it because the 2-core machine is shared and wall time there
 * counts the time spent waiting for a core. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 125;
    pid_t pid = fork();
    if (pid < 0) return 125;
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        _exit(125);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return 125;
    double t = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    FILE *out = fdopen(3, "w");
    if (out) { fprintf(out, "%.4f\n", t); fclose(out); }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}
