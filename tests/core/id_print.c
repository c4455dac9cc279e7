/*
 * tests/core/id_print.c: prints the ID of the JSON message given as argv[1]
 * (used by id_cli.sh to check IDs against sha256sum + basenc).
 */
#include <stdio.h>
#include <string.h>
#include "core/json.h"

int main(int argc, char **argv)
{
    aox_msg *m = NULL;
    aox_err err;
    char id[AOX_ID_LEN + 1];
    if (argc != 2 || aox_msg_from_json_text(argv[1], strlen(argv[1]), &m, &err) ||
        aox_msg_id(m, id)) {
        fprintf(stderr, "usage: id_print JSON\n");
        return 2;
    }
    puts(id);
    aox_msg_free(m);
    return 0;
}
