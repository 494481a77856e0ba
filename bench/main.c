/* prism-bench: dispatches to one benchmark per subcommand. */
#include <stdio.h>
#include <string.h>

struct bench_entry {
    const char *name;
    int (*main)(int argc, char **argv);
};

#include "bench_table.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: prism-bench COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; bench_table[i].name; i++)
        fprintf(out, "  %s\n", bench_table[i].name);
    fprintf(out, "\n'prism-bench COMMAND --help' describes each.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; bench_table[i].name; i++) {
        if (!strcmp(argv[1], bench_table[i].name))
            return bench_table[i].main(argc - 1, argv + 1);
    }
    fprintf(stderr, "prism-bench: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
