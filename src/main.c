/* pgrouter's entry point: argv, signals, config, runtime, loop — nothing else. */
#include <stdio.h>
#include <string.h>

#include "core/base.h"
#include "core/log.h"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: pgrouter -c FILE          run with the configuration in FILE\n"
            "       pgrouter --check-config FILE   validate FILE, print ok or the errors\n"
            "       pgrouter --version\n");
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("pgrouter %s\n", PGR_VERSION);
        return 0;
    }
    usage(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
    return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
