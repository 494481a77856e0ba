/* Configuration: one option table per binary drives file, flags and help. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * How this works.
 *
 * Every way of setting an option ends in set_value(), which parses the text
 * for the option's type into a local, checks bounds and buffer size, and
 * only then stores into the target struct; a failed set leaves the field as
 * it was. Callers add the context to its message: config_set() prefixes the
 * key, the file loader "path:line: key: ", the flag parser the flag as typed.
 *
 * config_parse() walks argv twice in effect: a first pass turns argv into a
 * list of (option, value) pairs, positional arguments, --config and --help,
 * reporting unknown flags and missing values before anything is read. Then
 * defaults are applied, the file is loaded, and the pairs are applied in
 * order, which gives defaults < file < flags whatever the position of
 * --config on the command line.
 *
 * The file goes through libinih with our own line reader. The reader counts
 * lines (libinih only passes line numbers to handlers when built with
 * INI_HANDLER_LINENO, which the distribution build is not), removes leading
 * blanks so that indented lines are plain keys rather than libinih's
 * continuation lines, and refuses lines longer than libinih's line buffer,
 * which libinih would otherwise split silently and so truncate a value.
 */

/* Names the flag and --help/--config reserve. */
#define CONFIG_HELP_SHORT 'h'

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *type_label(config_type_t type)
{
    switch (type) {
    case CONFIG_STRING:
        return "TEXT";
    case CONFIG_INT:
        return "INT";
    case CONFIG_DOUBLE:
        return "NUM";
    case CONFIG_BOOL:
        return "BOOL";
    }
    return "?";
}

/* Parses a whole decimal int64: no trailing text, no overflow. */
static int parse_int(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    if (end == s || *end != '\0')
        return -EINVAL;
    *out = (int64_t)v;
    return 0;
}

/* Parses a whole finite double: no trailing text, no overflow. */
static int parse_double(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -EINVAL;
    if (errno == ERANGE && fabs(v) == HUGE_VAL)
        return -ERANGE;
    if (!isfinite(v))
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/*
 * Parses value for opt and stores it in target. On failure the field is
 * untouched and err holds a message without the key (callers add it).
 */
static int set_value(const config_option_t *opt, void *target,
                     const char *value, char *err, size_t errlen)
{
    char *field = (char *)target + opt->offset;
    bool bounded = opt->min < opt->max;
    int r;

    switch (opt->type) {
    case CONFIG_STRING: {
        size_t len = strlen(value);
        if (len + 1 > opt->size) {
            set_err(err, errlen,
                    "value is too long (%zu bytes, at most %zu allowed)", len,
                    opt->size ? opt->size - 1 : 0);
            return -EINVAL;
        }
        memcpy(field, value, len + 1);
        return 0;
    }
    case CONFIG_INT: {
        int64_t v;
        r = parse_int(value, &v);
        if (r == -ERANGE) {
            set_err(err, errlen, "'%s' does not fit in a 64-bit integer",
                    value);
            return -EINVAL;
        }
        if (r < 0) {
            set_err(err, errlen, "'%s' is not an integer", value);
            return -EINVAL;
        }
        if (bounded && ((double)v < opt->min || (double)v > opt->max)) {
            set_err(err, errlen, "%s is out of range [%.0f, %.0f]", value,
                    opt->min, opt->max);
            return -EINVAL;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case CONFIG_DOUBLE: {
        double v;
        r = parse_double(value, &v);
        if (r == -ERANGE) {
            set_err(err, errlen, "'%s' is too large for a number", value);
            return -EINVAL;
        }
        if (r < 0) {
            set_err(err, errlen, "'%s' is not a number", value);
            return -EINVAL;
        }
        if (bounded && (v < opt->min || v > opt->max)) {
            set_err(err, errlen, "%s is out of range [%g, %g]", value, opt->min,
                    opt->max);
            return -EINVAL;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case CONFIG_BOOL: {
        bool v;
        if (parse_bool(value, &v) < 0) {
            set_err(err, errlen,
                    "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)",
                    value);
            return -EINVAL;
        }
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    }
    set_err(err, errlen, "unknown option type %d", (int)opt->type);
    return -EINVAL;
}

/* Sets opt and prefixes any error with `prefix` (the key as the user saw). */
static int set_named(const config_option_t *opt, void *target,
                     const char *value, const char *prefix, char *err,
                     size_t errlen)
{
    char why[512];
    int r = set_value(opt, target, value, why, sizeof(why));
    if (r < 0)
        set_err(err, errlen, "%s: %s", prefix, why);
    return r;
}

static const config_option_t *find_key(const config_option_t *table, size_t n,
                                       const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Checks the table itself, so that a programming error shows at start. */
static int check_table(const config_option_t *table, size_t n, char *err,
                       size_t errlen)
{
    if (n > 0 && !table) {
        set_err(err, errlen, "option table is NULL");
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const config_option_t *o = &table[i];
        if (!o->name || !*o->name) {
            set_err(err, errlen, "option %zu has no name", i);
            return -EINVAL;
        }
        if (strcmp(o->name, "help") == 0 || strcmp(o->name, "config") == 0 ||
            o->short_name == CONFIG_HELP_SHORT) {
            set_err(err, errlen,
                    "option %s: --help, -h and --config are "
                    "reserved",
                    o->name);
            return -EINVAL;
        }
        if (o->type == CONFIG_STRING && o->size == 0) {
            set_err(err, errlen, "option %s: string option with size 0",
                    o->name);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(table[j].name, o->name) == 0 ||
                (o->short_name && table[j].short_name == o->short_name)) {
                set_err(err, errlen,
                        "option %s: name or short name used "
                        "twice",
                        o->name);
                return -EINVAL;
            }
        }
    }
    return 0;
}

int config_defaults(const config_option_t *table, size_t n, void *target,
                    char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const config_option_t *o = &table[i];
        char *field = (char *)target + o->offset;
        if (!o->def) {
            /*
             * NULL means empty, 0 or false; 0 is stored even when it lies
             * outside the bounds, as an "unset" value the caller can test.
             */
            switch (o->type) {
            case CONFIG_STRING:
                if (o->size)
                    field[0] = '\0';
                break;
            case CONFIG_INT:
                memcpy(field, &(int64_t){0}, sizeof(int64_t));
                break;
            case CONFIG_DOUBLE:
                memcpy(field, &(double){0}, sizeof(double));
                break;
            case CONFIG_BOOL:
                memcpy(field, &(bool){false}, sizeof(bool));
                break;
            }
            continue;
        }
        char prefix[160];
        snprintf(prefix, sizeof(prefix), "default of %s", o->name);
        int r = set_named(o, target, o->def, prefix, err, errlen);
        if (r < 0)
            return r;
    }
    return 0;
}

int config_set(const config_option_t *table, size_t n, void *target,
               const char *name, const char *value, char *err, size_t errlen)
{
    const config_option_t *o = find_key(table, n, name);
    if (!o) {
        set_err(err, errlen, "unknown option '%s'", name);
        return -EINVAL;
    }
    return set_named(o, target, value ? value : "", name, err, errlen);
}

/* State shared by the line reader and the handler while loading a file. */
typedef struct {
    const config_option_t *table;
    size_t n;
    void *target;
    const char *path;
    FILE *fp;
    char *buf; /* getline buffer */
    size_t bufcap;
    int lineno;        /* lines read so far */
    int err_line;      /* line of the first error we found, 0 if none */
    int err_code;      /* its code */
    char message[512]; /* its message, with path:line */
} load_ctx_t;

/* libinih's reader: one physical line per call, counted, left-trimmed. */
static char *read_line(char *str, int num, void *stream)
{
    load_ctx_t *c = stream;
    if (c->err_line)
        return NULL;
    errno = 0;
    ssize_t len = getline(&c->buf, &c->bufcap, c->fp);
    if (len < 0) {
        if (ferror(c->fp)) {
            int e = errno ? errno : EIO;
            c->err_line = c->lineno + 1;
            c->err_code = -e;
            snprintf(c->message, sizeof(c->message), "%s:%d: read: %s", c->path,
                     c->err_line, strerror(e));
        }
        return NULL;
    }
    c->lineno++;
    const char *s = c->buf;
    /* Keep a UTF-8 byte order mark on line 1; libinih skips it. */
    size_t keep = (c->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0);
    s += keep ? 3 : 0;
    while (*s == ' ' || *s == '\t')
        s++;
    size_t rest = strlen(s);
    if (rest + 1 > (size_t)num - (keep ? 3 : 0)) {
        c->err_line = c->lineno;
        c->err_code = -EINVAL;
        snprintf(c->message, sizeof(c->message),
                 "%s:%d: line is too long (at most %d bytes)", c->path,
                 c->lineno, num - 2);
        return NULL;
    }
    if (keep)
        memcpy(str, "\xEF\xBB\xBF", 3);
    memcpy(str + (keep ? 3 : 0), s, rest + 1);
    return str;
}

static int on_key(void *user, const char *section, const char *name,
                  const char *value)
{
    (void)section; /* [section] headers are allowed and ignored */
    load_ctx_t *c = user;
    if (c->err_line)
        return 0;
    const config_option_t *o = find_key(c->table, c->n, name);
    if (!o) {
        c->err_line = c->lineno;
        c->err_code = -EINVAL;
        snprintf(c->message, sizeof(c->message), "%s:%d: unknown key '%s'",
                 c->path, c->lineno, name);
        return 0;
    }
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s:%d: %s", c->path, c->lineno, name);
    int r =
        set_named(o, c->target, value, prefix, c->message, sizeof(c->message));
    if (r < 0) {
        c->err_line = c->lineno;
        c->err_code = r;
        return 0;
    }
    return 1;
}

int config_load_file(const config_option_t *table, size_t n, void *target,
                     const char *path, char *err, size_t errlen)
{
    load_ctx_t c = {.table = table, .n = n, .target = target, .path = path};
    c.fp = fopen(path, "r");
    if (!c.fp) {
        int e = errno;
        set_err(err, errlen, "cannot open config file %s: %s", path,
                strerror(e));
        return -e;
    }
    int r = ini_parse_stream(read_line, &c, on_key, &c);
    int ret = 0;
    if (r == -2) {
        set_err(err, errlen, "%s: out of memory while parsing", path);
        ret = -ENOMEM;
    } else if (r > 0 && (!c.err_line || r < c.err_line)) {
        /* libinih found a syntax error before any error of ours. */
        set_err(err, errlen,
                "%s:%d: syntax error (expected 'key = value' "
                "or '[section]')",
                path, r);
        ret = -EINVAL;
    } else if (c.err_line) {
        set_err(err, errlen, "%s", c.message);
        ret = c.err_code;
    }
    free(c.buf);
    fclose(c.fp);
    return ret;
}

/* Matches a flag name as typed ("pg-url" or "pg_url") against a key. */
static bool flag_matches(const char *key, const char *flag, size_t flaglen)
{
    for (size_t i = 0; i < flaglen; i++) {
        char f = flag[i] == '-' ? '_' : flag[i];
        if (key[i] != f)
            return false;
    }
    return key[flaglen] == '\0';
}

static const config_option_t *find_flag(const config_option_t *table, size_t n,
                                        const char *flag, size_t flaglen)
{
    for (size_t i = 0; i < n; i++)
        if (flag_matches(table[i].name, flag, flaglen))
            return &table[i];
    return NULL;
}

static const config_option_t *find_short(const config_option_t *table, size_t n,
                                         char c)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].short_name && table[i].short_name == c)
            return &table[i];
    return NULL;
}

/* One option given on the command line, applied after the file. */
typedef struct {
    const config_option_t *opt;
    const char *value;
    const char *arg; /* the argv word that named it, for messages */
    bool negated;    /* --no-NAME */
    bool is_short;
} flag_set_t;

/* Writes the flag as the user typed it, without "=value". */
static void flag_text(const flag_set_t *f, char *buf, size_t len)
{
    if (f->is_short) {
        snprintf(buf, len, "-%c", f->opt->short_name);
        return;
    }
    const char *eq = strchr(f->arg, '=');
    int n = eq ? (int)(eq - f->arg) : (int)strlen(f->arg);
    snprintf(buf, len, "%.*s", n, f->arg);
}

/*
 * Splits argv into option settings, positional arguments, --config and
 * --help. Stops at --help (the rest is not examined).
 */
static int scan_args(const config_option_t *table, size_t n, int argc,
                     char **argv, flag_set_t *sets, size_t *nsets,
                     config_args_t *args, char *err, size_t errlen)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            args->positional[args->npositional++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            args->help = true;
            return 0;
        }
        flag_set_t f = {.arg = a};
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (len == 6 && strncmp(name, "config", 6) == 0) {
                const char *path = eq ? eq + 1 : NULL;
                if (!eq) {
                    if (i + 1 >= argc) {
                        set_err(err, errlen, "--config needs a file name");
                        return -EINVAL;
                    }
                    path = argv[++i];
                }
                if (!*path) {
                    set_err(err, errlen, "--config needs a file name");
                    return -EINVAL;
                }
                args->config_path = path;
                continue;
            }
            if (len == 4 && strncmp(name, "help", 4) == 0) {
                set_err(err, errlen, "--help takes no value");
                return -EINVAL;
            }
            f.opt = find_flag(table, n, name, len);
            if (!f.opt && len > 3 &&
                (strncmp(name, "no-", 3) == 0 ||
                 strncmp(name, "no_", 3) == 0)) {
                f.opt = find_flag(table, n, name + 3, len - 3);
                if (f.opt && f.opt->type != CONFIG_BOOL) {
                    set_err(err, errlen,
                            "%.*s: only on/off options can be negated",
                            (int)(len + 2), a);
                    return -EINVAL;
                }
                if (f.opt && eq) {
                    set_err(err, errlen, "%.*s takes no value", (int)(len + 2),
                            a);
                    return -EINVAL;
                }
                f.negated = f.opt != NULL;
            }
            if (!f.opt) {
                set_err(err, errlen, "unknown option %.*s", (int)(len + 2), a);
                return -EINVAL;
            }
            if (f.negated)
                f.value = "false";
            else if (eq)
                f.value = eq + 1;
            else if (f.opt->type == CONFIG_BOOL)
                f.value = "true";
            else if (i + 1 < argc)
                f.value = argv[++i];
        } else {
            f.is_short = true;
            f.opt = find_short(table, n, a[1]);
            if (!f.opt) {
                set_err(err, errlen, "unknown option -%c", a[1]);
                return -EINVAL;
            }
            if (f.opt->type == CONFIG_BOOL) {
                if (a[2] != '\0') {
                    set_err(err, errlen,
                            "-%c is an on/off switch and takes no value "
                            "(in '%s')",
                            a[1], a);
                    return -EINVAL;
                }
                f.value = "true";
            } else if (a[2] != '\0') {
                f.value = a[2] == '=' ? a + 3 : a + 2;
            } else if (i + 1 < argc) {
                f.value = argv[++i];
            }
        }
        if (!f.value) {
            char fl[160];
            flag_text(&f, fl, sizeof(fl));
            set_err(err, errlen, "%s needs a value", fl);
            return -EINVAL;
        }
        sets[(*nsets)++] = f;
    }
    return 0;
}

int config_parse(const config_option_t *table, size_t n, void *target,
                 const char *usage, int argc, char **argv, config_args_t *args,
                 char *err, size_t errlen)
{
    if (!args) {
        set_err(err, errlen, "config_parse: args is NULL");
        return -EINVAL;
    }
    memset(args, 0, sizeof(*args));
    int r = check_table(table, n, err, errlen);
    if (r < 0)
        return r;
    if (argc < 1)
        argc = 1; /* no program name: nothing to scan */

    flag_set_t *sets = calloc((size_t)argc, sizeof(*sets));
    args->positional = calloc((size_t)argc, sizeof(*args->positional));
    if (!sets || !args->positional) {
        set_err(err, errlen, "config_parse: out of memory");
        r = -ENOMEM;
        goto end;
    }
    size_t nsets = 0;
    r = scan_args(table, n, argc, argv, sets, &nsets, args, err, errlen);
    if (r < 0)
        goto end;
    r = config_defaults(table, n, target, err, errlen);
    if (r < 0)
        goto end;
    if (args->help) {
        config_print_help(table, n, usage, stdout);
        fflush(stdout);
        goto end;
    }
    if (args->config_path) {
        r = config_load_file(table, n, target, args->config_path, err, errlen);
        if (r < 0)
            goto end;
    }
    for (size_t i = 0; i < nsets; i++) {
        char fl[160];
        flag_text(&sets[i], fl, sizeof(fl));
        r = set_named(sets[i].opt, target, sets[i].value, fl, err, errlen);
        if (r < 0)
            goto end;
    }
end:
    free(sets);
    if (r < 0)
        config_args_free(args);
    return r;
}

/* Writes one help entry: flag column, help sentence, default and bounds. */
static void print_option(FILE *out, const config_option_t *o)
{
    char flag[160];
    char dashed[128];
    snprintf(dashed, sizeof(dashed), "%s", o->name);
    for (char *p = dashed; *p; p++)
        if (*p == '_')
            *p = '-';
    char shortpart[8] = "    ";
    if (o->short_name)
        snprintf(shortpart, sizeof(shortpart), "-%c, ", o->short_name);
    if (o->type == CONFIG_BOOL)
        snprintf(flag, sizeof(flag), "  %s--[no-]%s", shortpart, dashed);
    else
        snprintf(flag, sizeof(flag), "  %s--%s %s", shortpart, dashed,
                 type_label(o->type));
    const int col = 32;
    if ((int)strlen(flag) < col - 1)
        fprintf(out, "%-*s%s\n", col, flag, o->help ? o->help : "");
    else
        fprintf(out, "%s\n%*s%s\n", flag, col, "", o->help ? o->help : "");

    fprintf(out, "%*s", col, "");
    switch (o->type) {
    case CONFIG_STRING:
        if (o->def && *o->def)
            fprintf(out, "Default: \"%s\"", o->def);
        else
            fprintf(out, "Default: empty");
        fprintf(out, "; at most %zu bytes.\n", o->size ? o->size - 1 : 0);
        return;
    case CONFIG_BOOL:
        fprintf(out, "Default: %s.\n", o->def ? o->def : "false");
        return;
    case CONFIG_INT:
    case CONFIG_DOUBLE:
        fprintf(out, "Default: %s", o->def ? o->def : "0");
        break;
    }
    if (o->min < o->max) {
        if (o->type == CONFIG_INT)
            fprintf(out, "; range %.0f..%.0f", o->min, o->max);
        else
            fprintf(out, "; range %g..%g", o->min, o->max);
    }
    fprintf(out, ".\n");
}

void config_print_help(const config_option_t *table, size_t n,
                       const char *usage, void *out)
{
    FILE *f = out;
    if (usage && *usage) {
        if (strncasecmp(usage, "usage:", 6) == 0)
            fprintf(f, "%s\n\n", usage);
        else
            fprintf(f, "Usage: %s\n\n", usage);
    }
    fprintf(f, "Options:\n");
    fprintf(f, "  -h, --help                    Print this help and exit.\n");
    fprintf(f,
            "      --config FILE             Read options from an INI file "
            "(key = value,\n"
            "%32skeys as below with underscores).\n",
            "");
    for (size_t i = 0; i < n; i++)
        print_option(f, &table[i]);
    fprintf(f, "\nPrecedence: defaults < config file < flags. "
               "\"--\" ends the options.\n");
}

void config_args_free(config_args_t *args)
{
    if (!args)
        return;
    free(args->positional);
    memset(args, 0, sizeof(*args));
}
