/* prism-keygen: makes a node's CURVE key pair files (NAME.key, NAME.pub). */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "curve_keys.h"

typedef struct {
    char dir[4096];
    bool force;
} keygen_cfg_t;

static const config_option_t options[] = {
    {"dir", 'd', CONFIG_STRING, ".", 0, 0, offsetof(keygen_cfg_t, dir),
     sizeof(((keygen_cfg_t *)0)->dir),
     "Directory to write NAME.key and NAME.pub into"},
    {"force", 'f', CONFIG_BOOL, "false", 0, 0, offsetof(keygen_cfg_t, force), 0,
     "Overwrite existing key files"},
};

static const char usage[] =
    "usage: prism-keygen [--dir DIR] [--force] NAME\n"
    "Writes DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub (public,\n"
    "0644). Copy NAME.pub into the allowlist directory of the nodes NAME\n"
    "connects to; NAME is then its identity there.";

int main(int argc, char **argv)
{
    keygen_cfg_t cfg;
    config_args_t args;
    curve_keypair_t *kp = NULL;
    char err[512], key_path[4096], pub_path[4096];
    int rc, status = 1;

    memset(&cfg, 0, sizeof(cfg));
    memset(&args, 0, sizeof(args));
    rc = config_parse(options, sizeof(options) / sizeof(options[0]), &cfg,
                      usage, argc, argv, &args, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "prism-keygen: %s\n%s\n", err, usage);
        return 2;
    }
    if (args.help) {
        status = 0;
        goto end;
    }
    if (args.npositional != 1) {
        fprintf(stderr, "prism-keygen: give exactly one NAME\n%s\n", usage);
        status = 2;
        goto end;
    }
    kp = curve_keypair_generate();
    if (!kp) {
        fprintf(stderr, "prism-keygen: cannot generate a CURVE key pair "
                        "(is libzmq built with CURVE?)\n");
        goto end;
    }
    rc = curve_keys_write(kp, cfg.dir, args.positional[0], cfg.force, key_path,
                          pub_path, sizeof(key_path));
    if (rc == -EEXIST) {
        fprintf(stderr,
                "prism-keygen: %s or %s already exists; use --force to "
                "replace it\n",
                key_path, pub_path);
        goto end;
    }
    if (rc == -EINVAL) {
        fprintf(stderr,
                "prism-keygen: bad NAME '%s': use letters, digits, '.', '-', "
                "'_' and do not start with '.'\n",
                args.positional[0]);
        goto end;
    }
    if (rc) {
        fprintf(stderr, "prism-keygen: cannot write keys into %s: %s\n",
                cfg.dir, strerror(-rc));
        goto end;
    }
    printf("public_key = %s\nsecret: %s\npublic: %s\n", kp->public_z85,
           key_path, pub_path);
    status = 0;
end:
    curve_keypair_free(&kp);
    config_args_free(&args);
    return status;
}
