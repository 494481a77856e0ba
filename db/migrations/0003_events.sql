-- 0003: the append-only event log.

-- What happened in the farm (publish, assign, failover, drain, ...). Rows
-- are only ever inserted: the trigger below refuses UPDATE, DELETE and
-- TRUNCATE. stream_id and worker_id are plain columns, not foreign keys, so
-- the log outlives what it mentions.
CREATE TABLE events (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    kind      text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
    stream_id uuid,
    worker_id text,
    -- Which coordinator wrote it (two may run; one leads).
    coordinator text,
    detail    jsonb NOT NULL DEFAULT '{}'
              CHECK (jsonb_typeof(detail) = 'object')
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_stream ON events (stream_id, id)
    WHERE stream_id IS NOT NULL;
CREATE INDEX events_worker ON events (worker_id, id)
    WHERE worker_id IS NOT NULL;
CREATE INDEX events_kind ON events (kind, id);

CREATE FUNCTION events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Insert a new event instead.';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
