/* Configuration: one option table per binary drives file, flags and help. */
#ifndef PRISM_CONFIG_H
#define PRISM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Each binary (or subcommand) describes its options once, in a table:
 *
 *   typedef struct { char pg_url[256]; int64_t report_ms; bool tls; } cfg_t;
 *   static const config_option_t opts[] = {
 *       {"pg_url", 0, CONFIG_STRING, "postgresql:///prism", 0, 0,
 *        offsetof(cfg_t, pg_url), sizeof(((cfg_t *)0)->pg_url),
 *        "PostgreSQL connection string"},
 *       {"report_ms", 0, CONFIG_INT, "1000", 100, 60000,
 *        offsetof(cfg_t, report_ms), 0, "Load report interval in ms"},
 *   };
 *
 * From that one table come:
 *  - defaults (applied first),
 *  - the INI config file named by --config FILE (keys are option names; a
 *    [section] header is allowed and ignored, so one file can hold
 *    "[coordinator]" for readability),
 *  - command-line flags: --pg-url VALUE, --pg-url=VALUE (underscores in the
 *    name become dashes), -x VALUE for options with a short name; a CONFIG_BOOL
 *    flag alone means true, --no-NAME means false,
 *  - --help text (name, type, default, bounds, help).
 * Precedence: defaults < file < flags. An unknown key or flag, a value that
 * does not parse, or a number outside [min, max] is an error that names the
 * key (and the file and line for file errors).
 */

typedef enum {
    CONFIG_STRING, /* char buffer of `size` bytes; too long is an error */
    CONFIG_INT,    /* int64_t, bounds checked when min < max */
    CONFIG_DOUBLE, /* double, bounds checked when min < max */
    CONFIG_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
} config_type_t;

typedef struct {
    const char *name; /* snake_case key */
    char short_name;  /* single-letter flag, or 0 */
    config_type_t type;
    const char *def;  /* default as text; NULL means "" / 0 / false */
    double min, max;  /* inclusive bounds for numbers when min < max */
    size_t offset;    /* offsetof() the field in the target struct */
    size_t size;      /* buffer size for CONFIG_STRING */
    const char *help; /* one sentence */
} config_option_t;

/* What config_parse found besides options. */
typedef struct {
    bool help;               /* --help or -h was given: help was printed */
    const char *config_path; /* --config FILE, borrowed from argv, or NULL */
    int npositional;         /* arguments that are not options, in order */
    char **positional;       /* points into argv; valid while argv is */
} config_args_t;

/*
 * Fills `target` from defaults, the --config file, then flags in argv
 * (argv[0] is the program name and is skipped). "--" ends options.
 * Positional arguments are collected in `args`, which the caller frees with
 * config_args_free(). On --help the help text goes to stdout and
 * args->help is set; the caller should exit 0.
 * Errors: returns -EINVAL (bad key, value, bounds) or -ENOENT (file missing)
 * and writes one message naming the key into err (errlen bytes).
 * Details: --help/-h and --config are reserved (a table using them is
 * refused); on --help the defaults are applied and the rest of argv is not
 * examined. A file that cannot be read gives another -errno (-EACCES,
 * -EISDIR). A file line longer than libinih's line buffer (200 bytes) is an
 * error, not a truncated value. On error `target` may be partly filled and
 * `args` is left empty.
 */
int config_parse(const config_option_t *table, size_t n, void *target,
                 const char *usage, int argc, char **argv, config_args_t *args,
                 char *err, size_t errlen);

/* Applies the defaults of every option in the table to `target`. */
int config_defaults(const config_option_t *table, size_t n, void *target,
                    char *err, size_t errlen);

/* Sets one option from text, checking type and bounds. */
int config_set(const config_option_t *table, size_t n, void *target,
               const char *name, const char *value, char *err, size_t errlen);

/* Loads an INI file into target (no defaults applied). */
int config_load_file(const config_option_t *table, size_t n, void *target,
                     const char *path, char *err, size_t errlen);

/*
 * Writes the generated help for the table to `out` (a FILE *). `usage` is
 * the synopsis, e.g. "prism-worker [options]"; "Usage: " is prepended unless
 * it already starts with it. NULL prints no synopsis.
 */
void config_print_help(const config_option_t *table, size_t n,
                       const char *usage, void *out);

void config_args_free(config_args_t *args);

#endif
