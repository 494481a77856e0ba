/* Brings the PostgreSQL schema up to the migrations built into the binary. */

/*
 * How this works: the build turns db/migrations/NNNN_name.sql into the
 * table db_migrations[] (text and SHA-256 of each file, ordered by
 * version). At start the coordinator calls db_migrate() on a plain
 * synchronous connection. Under a session advisory lock it reads
 * schema_migrations, checks that every applied migration is one this binary
 * has with the same checksum, and runs each missing one in its own
 * transaction together with the row that records it. Nothing is applied
 * when any check fails, so an edited or unknown migration stops the
 * coordinator before it touches the database.
 */

#include "db_migrate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ladder.h"
#include "log.h"

#define MOD "db"

#define LOCK_KEY_TEXT_LEN 24

static const char SQL_CREATE_TABLE[] =
    "CREATE TABLE schema_migrations ("
    " version integer PRIMARY KEY CHECK (version > 0),"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
static const char SQL_TABLE_EXISTS[] =
    "SELECT to_regclass('schema_migrations') IS NOT NULL";
static const char SQL_APPLIED[] =
    "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
static const char SQL_RECORD[] =
    "INSERT INTO schema_migrations (version, name, checksum) "
    "VALUES ($1::integer, $2, $3)";
static const char SQL_SEED[] =
    "INSERT INTO ladder_profiles (name, document) VALUES ($1, $2::jsonb) "
    "ON CONFLICT (name) DO NOTHING";
static const char SQL_MAX_VERSION[] =
    "SELECT coalesce(max(version), 0) FROM schema_migrations";

/* Writes one sentence into err, flattening newlines, and logs it. */
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == '\t')
            buf[i] = ' ';
    if (err && errlen > 0)
        snprintf(err, errlen, "%s", buf);
    log_error(MOD, "Database migration failed.", "err=\"%s\"", buf);
    return code;
}

/*
 * Runs sql (with optional text parameters) and checks the result status;
 * on success hands the result to *out (or clears it). what names the step
 * in the error.
 */
static int run(PGconn *conn, const char *what, const char *sql, int nparams,
               const char *const *params, ExecStatusType want, PGresult **out,
               char *err, size_t errlen)
{
    PGresult *res = nparams > 0 ? PQexecParams(conn, sql, nparams, NULL, params,
                                               NULL, NULL, 0)
                                : PQexec(conn, sql);
    if (!res)
        return fail(err, errlen, DB_MIGRATE_ERR_PG, "%s: %s", what,
                    PQerrorMessage(conn));
    if (PQresultStatus(res) != want) {
        int rc = fail(err, errlen, DB_MIGRATE_ERR_PG, "%s: %s", what,
                      PQresultErrorMessage(res));
        PQclear(res);
        return rc;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

static const db_migration_t *find_embedded(int version)
{
    for (size_t i = 0; i < db_migrations_count; i++)
        if (db_migrations[i].version == version)
            return &db_migrations[i];
    return NULL;
}

int db_migrate_latest_version(void)
{
    return db_migrations_count > 0
               ? db_migrations[db_migrations_count - 1].version
               : 0;
}

/*
 * Checks the applied rows against the embedded list; sets applied[i] for
 * each embedded migration already in the database.
 */
static int check_applied(const PGresult *res, bool *applied, char *err,
                         size_t errlen)
{
    int latest = db_migrate_latest_version();
    int max_applied = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        int version = atoi(PQgetvalue(res, r, 0));
        const char *name = PQgetvalue(res, r, 1);
        const char *sum = PQgetvalue(res, r, 2);
        const db_migration_t *m = find_embedded(version);
        if (!m && version > latest)
            return fail(err, errlen, DB_MIGRATE_ERR_NEWER,
                        "the database has migration %04d (%s), newer than "
                        "this binary knows (latest %04d): run a newer "
                        "prism-coordinator",
                        version, name, latest);
        if (!m)
            return fail(err, errlen, DB_MIGRATE_ERR_UNKNOWN,
                        "the database has migration %04d (%s), which this "
                        "binary does not have: was its file removed?",
                        version, name);
        if (strcmp(sum, m->checksum) != 0)
            return fail(err, errlen, DB_MIGRATE_ERR_EDITED,
                        "migration %04d_%s was changed after it was applied "
                        "(checksum in database %.12s..., in this binary "
                        "%.12s...): never edit an applied migration, add a "
                        "new one",
                        m->version, m->name, sum, m->checksum);
        applied[m - db_migrations] = true;
        if (version > max_applied)
            max_applied = version;
    }
    for (size_t i = 0; i < db_migrations_count; i++)
        if (!applied[i] && db_migrations[i].version < max_applied)
            return fail(err, errlen, DB_MIGRATE_ERR_GAP,
                        "migration %04d_%s is missing but the later "
                        "migration %04d is applied: migrations must be "
                        "added with a version above every applied one",
                        db_migrations[i].version, db_migrations[i].name,
                        max_applied);
    return 0;
}

/* Runs one migration and records it, in one transaction. */
static int apply_one(PGconn *conn, const db_migration_t *m, char *err,
                     size_t errlen)
{
    char what[128];
    char version[16];
    int64_t t0 = clock_mono_ms();
    int rc;

    snprintf(what, sizeof(what), "migration %04d_%s", m->version, m->name);
    rc = run(conn, what, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
    if (rc < 0)
        return rc;
    PGresult *res = PQexec(conn, m->sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = fail(err, errlen, DB_MIGRATE_ERR_PG, "%s: %s", what,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[3] = {version, m->name, m->checksum};
    rc = run(conn, what, SQL_RECORD, 3, params, PGRES_COMMAND_OK, NULL, err,
             errlen);
    if (rc < 0)
        goto rollback;
    rc =
        run(conn, what, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL, err, errlen);
    if (rc < 0)
        goto rollback;
    log_info(MOD, "Applied migration.", "version=%04d name=%s ms=%" PRId64,
             m->version, m->name, clock_mono_ms() - t0);
    return 0;

rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

/* Inserts the built-in default profile unless a row of its name exists. */
static int seed_default_profile(PGconn *conn, char *err, size_t errlen)
{
    const char *json = ladder_default_json();
    ladder_profile_t profile;
    char perr[256] = "";

    if (!json || ladder_profile_parse(json, &profile, perr, sizeof(perr)) < 0)
        return fail(err, errlen, DB_MIGRATE_ERR_PROFILE,
                    "the built-in default ladder profile does not parse: %s",
                    json ? perr : "absent");
    const char *name = profile.name[0] ? profile.name : "default";
    const char *params[2] = {name, json};
    PGresult *res = NULL;
    int rc = run(conn, "seeding the default ladder profile", SQL_SEED, 2,
                 params, PGRES_COMMAND_OK, &res, err, errlen);
    if (rc < 0)
        return rc;
    if (strcmp(PQcmdTuples(res), "1") == 0)
        log_info(MOD, "Seeded the default ladder profile.", "name=%s", name);
    PQclear(res);
    return 0;
}

int db_migrate(PGconn *conn, char *err, size_t errlen)
{
    char key[LOCK_KEY_TEXT_LEN];
    const char *key_param[1] = {key};
    PGresult *res = NULL;
    bool locked = false;
    bool *applied = NULL;
    int rc;

    if (err && errlen > 0)
        err[0] = '\0';
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return fail(err, errlen, DB_MIGRATE_ERR_PG,
                    "no usable connection to PostgreSQL: %s",
                    conn ? PQerrorMessage(conn) : "none");
    if (PQtransactionStatus(conn) != PQTRANS_IDLE)
        return fail(err, errlen, DB_MIGRATE_ERR_PG,
                    "the connection is inside a transaction; migrations need "
                    "an idle one");

    snprintf(key, sizeof(key), "%lld", (long long)DB_MIGRATE_LOCK_KEY);
    rc = run(conn, "pg_advisory_lock", "SELECT pg_advisory_lock($1::bigint)", 1,
             key_param, PGRES_TUPLES_OK, NULL, err, errlen);
    if (rc < 0)
        goto end;
    locked = true;

    rc = run(conn, "looking for schema_migrations", SQL_TABLE_EXISTS, 0, NULL,
             PGRES_TUPLES_OK, &res, err, errlen);
    if (rc < 0)
        goto end;
    bool exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    res = NULL;
    if (!exists) {
        rc = run(conn, "creating schema_migrations", SQL_CREATE_TABLE, 0, NULL,
                 PGRES_COMMAND_OK, NULL, err, errlen);
        if (rc < 0)
            goto end;
    }

    rc = run(conn, "reading schema_migrations", SQL_APPLIED, 0, NULL,
             PGRES_TUPLES_OK, &res, err, errlen);
    if (rc < 0)
        goto end;
    applied = calloc(db_migrations_count + 1, sizeof(*applied));
    if (!applied) {
        rc = fail(err, errlen, -ENOMEM, "out of memory");
        goto end;
    }
    rc = check_applied(res, applied, err, errlen);
    if (rc < 0)
        goto end;

    int napplied = 0;
    for (size_t i = 0; i < db_migrations_count; i++) {
        if (applied[i])
            continue;
        rc = apply_one(conn, &db_migrations[i], err, errlen);
        if (rc < 0)
            goto end;
        napplied++;
    }
    if (napplied > 0)
        log_info(MOD, "Database schema is up to date.",
                 "version=%04d applied=%d", db_migrate_latest_version(),
                 napplied);

    rc = seed_default_profile(conn, err, errlen);

end:
    PQclear(res);
    free(applied);
    if (locked) {
        PGresult *u =
            PQexecParams(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL,
                         key_param, NULL, NULL, 0);
        if (PQresultStatus(u) != PGRES_TUPLES_OK && rc == 0)
            rc = fail(err, errlen, DB_MIGRATE_ERR_PG, "pg_advisory_unlock: %s",
                      PQerrorMessage(conn));
        PQclear(u);
    }
    return rc;
}

int db_migrate_current_version(PGconn *conn, int *version, char *err,
                               size_t errlen)
{
    PGresult *res = NULL;
    int rc;

    *version = 0;
    rc = run(conn, "looking for schema_migrations", SQL_TABLE_EXISTS, 0, NULL,
             PGRES_TUPLES_OK, &res, err, errlen);
    if (rc < 0)
        return rc;
    bool exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists)
        return 0;
    rc = run(conn, "reading schema_migrations", SQL_MAX_VERSION, 0, NULL,
             PGRES_TUPLES_OK, &res, err, errlen);
    if (rc < 0)
        return rc;
    *version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}
