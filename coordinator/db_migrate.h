/* Brings the PostgreSQL schema up to the migrations built into the binary. */
#ifndef PRISM_DB_MIGRATE_H
#define PRISM_DB_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

/* One migration: db/migrations/NNNN_name.sql, embedded at build time. */
typedef struct {
    int version;          /* NNNN */
    const char *name;     /* "name" */
    const char *sql;      /* the file's text */
    const char *checksum; /* SHA-256 of the file, 64 lowercase hex digits */
} db_migration_t;

/*
 * The embedded migrations, ordered by strictly increasing version. Defined
 * in the C file that the build generates from db/migrations (one entry
 * per .sql file).
 */
extern const db_migration_t db_migrations[];
extern const size_t db_migrations_count;

/* Errors of db_migrate besides -ENOMEM. */
#define DB_MIGRATE_ERR_PG (-2001) /* a libpq call or statement failed */
#define DB_MIGRATE_ERR_EDITED                                                  \
    (-2002)                          /* applied migration's checksum differs   \
                                      */
#define DB_MIGRATE_ERR_NEWER (-2003) /* database has a version unknown here */
#define DB_MIGRATE_ERR_GAP                                                     \
    (-2004) /* a missing migration precedes one applied */
#define DB_MIGRATE_ERR_PROFILE                                                 \
    (-2005) /* the built-in default profile is bad                             \
             */
#define DB_MIGRATE_ERR_UNKNOWN                                                 \
    (-2006) /* an applied migration is not built in */

/* The advisory lock key held while migrating ("prism" + 1). */
#define DB_MIGRATE_LOCK_KEY 0x707269736d0001LL

/*
 * Applies the embedded migrations that the database lacks, then seeds the
 * default ladder profile.
 *
 * This is the coordinator's one synchronous use of libpq: it runs once at
 * start, before the event loop, on a connection in the idle state (conn is
 * borrowed and left open and idle). It takes a session advisory lock
 * (DB_MIGRATE_LOCK_KEY) so that two coordinators starting at once apply each
 * migration once, creates schema_migrations when absent, and refuses to
 * change anything when an applied migration's checksum differs from the
 * embedded one (an edited migration), when the database has a version newer
 * than this binary knows or one it does not have, or when a migration this
 * binary has is missing below one that is applied. Each missing migration runs
 * in its own transaction together with its schema_migrations row and is logged.
 * Then the default profile (ladder_default_json()) is inserted into
 * ladder_profiles unless a row of that name exists. Tables are created in
 * the connection's current schema (search_path).
 *
 * Returns 0, or a DB_MIGRATE_ERR_* code with one sentence in err (which
 * includes PQerrorMessage for database errors); the failure is also logged.
 */
int db_migrate(PGconn *conn, char *err, size_t errlen);

/*
 * The newest version in schema_migrations (0 when the table is absent or
 * empty) into *version. Synchronous like db_migrate. Returns 0 or
 * DB_MIGRATE_ERR_PG with a message in err.
 */
int db_migrate_current_version(PGconn *conn, int *version, char *err,
                               size_t errlen);

/* The newest embedded version (0 when there is none). */
int db_migrate_latest_version(void);

#endif
