/* Tests of the migration runner against a real PostgreSQL (PRISM_TEST_PGURL).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "db_migrate.h"
#include "ladder.h"

/* Each test runs in its own fresh schema, dropped afterwards. */
typedef struct {
    PGconn *conn;
    char schema[64];
} fixture_t;

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
}

/* The single value of a one-row query, as a number. */
static long long query_num(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    long long v = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

static int setup(void **state)
{
    static int n;
    const char *url = getenv("PRISM_TEST_PGURL");
    if (!url || !*url)
        fail_msg("PRISM_TEST_PGURL is not set (run through ctest)");
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->conn = PQconnectdb(url);
    if (PQstatus(f->conn) != CONNECTION_OK)
        fail_msg("connect %s: %s", url, PQerrorMessage(f->conn));
    snprintf(f->schema, sizeof(f->schema), "test_db_migrate_%ld_%d",
             (long)getpid(), ++n);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SET client_min_messages = warning; "
             "DROP SCHEMA IF EXISTS %s CASCADE; "
             "CREATE SCHEMA %s; SET search_path TO %s",
             f->schema, f->schema, f->schema);
    exec_ok(f->conn, sql);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", f->schema);
    exec_ok(f->conn, sql);
    PQfinish(f->conn);
    free(f);
    return 0;
}

static void migrate_ok(PGconn *conn)
{
    char err[512] = "";
    int rc = db_migrate(conn, err, sizeof(err));
    if (rc != 0)
        fail_msg("db_migrate: %d %s", rc, err);
    assert_string_equal(err, "");
}

static void test_empty_database_gets_every_table(void **state)
{
    fixture_t *f = *state;
    int version = -1;
    char err[256];
    assert_int_equal(
        db_migrate_current_version(f->conn, &version, err, sizeof(err)), 0);
    assert_int_equal(version, 0);

    migrate_ok(f->conn);

    static const char *tables[] = {
        "schema_migrations", "channels", "ladder_profiles",
        "workers",           "devices",  "streams",
        "assignments",       "events",   "stream_stats",
    };
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM information_schema.tables "
                 "WHERE table_schema = current_schema() "
                 "AND table_name = '%s'",
                 tables[i]);
        if (query_num(f->conn, sql) != 1)
            fail_msg("table %s missing after migrating", tables[i]);
    }
    assert_true(db_migrations_count >= 3);
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "schema_migrations"),
                     (long long)db_migrations_count);
    assert_int_equal(
        db_migrate_current_version(f->conn, &version, err, sizeof(err)), 0);
    assert_int_equal(version, db_migrate_latest_version());
    /* Checksums are recorded as the build computed them. */
    assert_int_equal(query_num(f->conn,
                               "SELECT count(*) FROM schema_migrations WHERE "
                               "checksum ~ '^[0-9a-f]{64}$'"),
                     (long long)db_migrations_count);
    /* Constraints hold: an unknown worker state is refused. */
    PGresult *res = PQexec(f->conn, "INSERT INTO workers (id, state) "
                                    "VALUES ('w1', 'sleepy')");
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514");
    PQclear(res);
}

static void test_second_run_is_a_no_op(void **state)
{
    fixture_t *f = *state;
    migrate_ok(f->conn);
    long long rows = query_num(f->conn, "SELECT count(*) FROM "
                                        "schema_migrations");
    long long last = query_num(f->conn, "SELECT extract(epoch FROM "
                                        "max(applied_at)) * 1000000 "
                                        "FROM schema_migrations");
    migrate_ok(f->conn);
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "schema_migrations"),
                     rows);
    assert_int_equal(query_num(f->conn, "SELECT extract(epoch FROM "
                                        "max(applied_at)) * 1000000 "
                                        "FROM schema_migrations"),
                     last);
    /* The advisory lock was released: another session can take it. */
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
             "AND pid = pg_backend_pid()");
    assert_int_equal(query_num(f->conn, sql), 0);
}

static void test_default_profile_seeded_once(void **state)
{
    fixture_t *f = *state;
    ladder_profile_t def;
    char perr[256];
    assert_int_equal(
        ladder_profile_parse(ladder_default_json(), &def, perr, sizeof(perr)),
        0);
    const char *name = def.name[0] ? def.name : "default";
    const char *params[1] = {name};

    migrate_ok(f->conn);
    PGresult *res = PQexecParams(
        f->conn,
        "SELECT document = $2::jsonb FROM "
        "ladder_profiles WHERE name = $1",
        2, NULL, (const char *[]){name, ladder_default_json()}, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "t");
    PQclear(res);

    /* An operator's edit of the profile survives the next start. */
    res = PQexecParams(f->conn,
                       "UPDATE ladder_profiles SET document = "
                       "'{\"name\": \"edited\"}' WHERE name = $1",
                       1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    migrate_ok(f->conn);
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "ladder_profiles"),
                     1);
    res = PQexecParams(f->conn,
                       "SELECT document->>'name' FROM ladder_profiles "
                       "WHERE name = $1",
                       1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "edited");
    PQclear(res);
}

static void test_events_are_append_only(void **state)
{
    fixture_t *f = *state;
    migrate_ok(f->conn);
    exec_ok(f->conn, "INSERT INTO events (kind, worker_id, detail) "
                     "VALUES ('worker.register', 'w1', '{\"host\": \"a\"}')");
    static const char *refused[] = {
        "UPDATE events SET kind = 'worker.gone'",
        "DELETE FROM events",
        "TRUNCATE events",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        PGresult *res = PQexec(f->conn, refused[i]);
        if (PQresultStatus(res) != PGRES_FATAL_ERROR)
            fail_msg("%s was not refused", refused[i]);
        assert_non_null(strstr(PQresultErrorMessage(res), "append-only"));
        PQclear(res);
    }
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM events WHERE "
                                        "kind = 'worker.register'"),
                     1);
}

static void test_edited_migration_is_refused(void **state)
{
    fixture_t *f = *state;
    migrate_ok(f->conn);
    exec_ok(f->conn, "UPDATE schema_migrations SET checksum = "
                     "repeat('0', 64) WHERE version = 2");
    long long rows = query_num(f->conn, "SELECT count(*) FROM "
                                        "schema_migrations");
    char err[512] = "";
    assert_int_equal(db_migrate(f->conn, err, sizeof(err)),
                     DB_MIGRATE_ERR_EDITED);
    char want[64];
    snprintf(want, sizeof(want), "migration 0002_%s was changed",
             db_migrations[1].name);
    if (!strstr(err, want) || !strstr(err, "never edit an applied"))
        fail_msg("unclear error: %s", err);
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "schema_migrations"),
                     rows);
    /* The connection is left usable and idle. */
    assert_int_equal(PQtransactionStatus(f->conn), PQTRANS_IDLE);
}

static void test_newer_database_is_refused(void **state)
{
    fixture_t *f = *state;
    migrate_ok(f->conn);
    char sql[256];
    int newer = db_migrate_latest_version() + 1;
    snprintf(sql, sizeof(sql),
             "INSERT INTO schema_migrations (version, name, checksum) "
             "VALUES (%d, 'from_the_future', repeat('a', 64))",
             newer);
    exec_ok(f->conn, sql);
    char err[512] = "";
    assert_int_equal(db_migrate(f->conn, err, sizeof(err)),
                     DB_MIGRATE_ERR_NEWER);
    char want[32];
    snprintf(want, sizeof(want), "%04d", newer);
    if (!strstr(err, want) || !strstr(err, "newer than this binary"))
        fail_msg("unclear error: %s", err);
}

static void test_missing_earlier_migration_is_refused(void **state)
{
    fixture_t *f = *state;
    migrate_ok(f->conn);
    exec_ok(f->conn, "DELETE FROM schema_migrations WHERE version = 1");
    char err[512] = "";
    assert_int_equal(db_migrate(f->conn, err, sizeof(err)), DB_MIGRATE_ERR_GAP);
    assert_non_null(strstr(err, "migration 0001_"));
}

static void test_failing_migration_rolls_back(void **state)
{
    fixture_t *f = *state;
    /* A table in the way makes migration 0001 fail part-way through. */
    exec_ok(f->conn, "CREATE TABLE workers (x integer)");
    char err[512] = "";
    assert_int_equal(db_migrate(f->conn, err, sizeof(err)), DB_MIGRATE_ERR_PG);
    if (!strstr(err, "migration 0001_") || !strstr(err, "workers"))
        fail_msg("error names neither the migration nor the cause: %s", err);
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "schema_migrations"),
                     0);
    /* Nothing of 0001 stayed: the tables created before the failure too. */
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "information_schema.tables WHERE "
                                        "table_schema = current_schema() "
                                        "AND table_name = 'channels'"),
                     0);
    assert_int_equal(PQtransactionStatus(f->conn), PQTRANS_IDLE);
}

#define RACERS 4

typedef struct {
    const char *schema;
    pthread_barrier_t *go;
    int rc;
    char err[512];
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    PGconn *conn = PQconnectdb(getenv("PRISM_TEST_PGURL"));
    char sql[128];
    snprintf(sql, sizeof(sql), "SET search_path TO %s", r->schema);
    PGresult *res = PQexec(conn, sql);
    pthread_barrier_wait(r->go); /* all connected: start together */
    r->rc = PQresultStatus(res) == PGRES_COMMAND_OK
                ? db_migrate(conn, r->err, sizeof(r->err))
                : -1;
    PQclear(res);
    PQfinish(conn);
    return NULL;
}

/* Two coordinators starting at once: each migration is applied once. */
static void test_concurrent_runs_apply_once(void **state)
{
    fixture_t *f = *state;
    racer_t racers[RACERS];
    pthread_t threads[RACERS];
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (racer_t){.schema = f->schema, .go = &go};
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]),
                         0);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(threads[i], NULL);
        if (racers[i].rc != 0)
            fail_msg("run %d: %d %s", i, racers[i].rc, racers[i].err);
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "schema_migrations"),
                     (long long)db_migrations_count);
    assert_int_equal(query_num(f->conn, "SELECT count(*) FROM "
                                        "ladder_profiles"),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_database_gets_every_table,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_run_is_a_no_op, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_profile_seeded_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_events_are_append_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_edited_migration_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_newer_database_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_missing_earlier_migration_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_migration_rolls_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_runs_apply_once, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
