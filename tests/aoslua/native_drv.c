/*
 * tests/aoslua/native_drv.c: for bench/aoslua/run.sh (not a test). Links glue.c +
 * Lua natively (host cc -O2) and calls handle() directly with the JSON an aox node
 * would pass, so the figure is the same C and Lua code without the wasm engine.
 *   native_drv <transfers>
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

const char *handle(const char *msg, const char *env);

#define PID "PROCESS0000000000000000000000000000000000A"
static const char *env = "{\"Process\":{\"Id\":\"" PID "\",\"Owner\":\"\",\"Tags\":["
                         "{\"name\":\"Execution-Device\",\"value\":\"wasm@1.0\"}]},"
                         "\"Module\":{\"Id\":\"M\",\"Tags\":[]}}";
static const char *senders[4] = {
    "SENDERA0000000000000000000000000000000000A", "SENDERB0000000000000000000000000000000000B",
    "SENDERC0000000000000000000000000000000000C", "SENDERD0000000000000000000000000000000000D"};

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 3000;
    char msg[2048], boot[512];
    snprintf(boot, sizeof boot, "{\"Id\":\"" PID "\",\"Data\":\"{\\\"%s\\\":1000000000,"
             "\\\"%s\\\":1000000000,\\\"%s\\\":1000000000,\\\"%s\\\":1000000000}\",\"Tags\":[]}",
             senders[0], senders[1], senders[2], senders[3]);
    handle(boot, env);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        snprintf(msg, sizeof msg,
                 "{\"Id\":\"MSG%040ld\",\"Owner\":\"\",\"From\":\"%s\",\"Target\":\"" PID "\","
                 "\"Tags\":[{\"name\":\"Action\",\"value\":\"Transfer\"},{\"name\":\"N\","
                 "\"value\":\"%ld\"},{\"name\":\"Quantity\",\"value\":\"1\"},{\"name\":"
                 "\"Recipient\",\"value\":\"%s\"}],\"Data\":\"\",\"Module\":\"M\","
                 "\"Block-Height\":0,\"Timestamp\":%ld}",
                 i, senders[i % 4], i, senders[(i + 1) % 4], 1700000000000L + i);
        const char *r = handle(msg, env);
        if (!r || r[6] != 't') { /* {"ok":true */
            fprintf(stderr, "transfer %ld failed: %s\n", i, r ? r : "(null)");
            return 1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("glue.c + Lua + process.lua native (cc -O2, no engine): %.0f transfers/s "
           "(%ld messages)\n", (double)n / s, n);
    return 0;
}
