-- 0002: streams, their placements on workers, and their sampled statistics.

-- One publish of a channel, from admission to its end. A channel has at
-- most one stream that has not ended; an ingest reconnect within the grace
-- period continues the same row.
CREATE TABLE streams (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    channel_id          bigint NOT NULL REFERENCES channels (id)
                        ON DELETE RESTRICT,
    state               text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'assigning', 'running',
                                         'recovering', 'ended')),
    ingest_id           text NOT NULL,
    protocol            text NOT NULL DEFAULT 'rtmp'
                        CHECK (protocol IN ('rtmp', 'srt')),
    -- Profile name when the stream started (the channel may change later).
    profile             text,
    started_at          timestamptz NOT NULL DEFAULT now(),
    ended_at            timestamptz,
    end_reason          text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- The current placement, mirrored from the open assignment so that a
    -- restarted coordinator reloads open streams with one query.
    worker_id           text REFERENCES workers (id) ON DELETE SET NULL,
    device_index        integer CHECK (device_index >= 0),
    generation          bigint NOT NULL DEFAULT 0 CHECK (generation >= 0),
    subscribe_token     text,
    renditions          jsonb NOT NULL DEFAULT '[]'
                        CHECK (jsonb_typeof(renditions) = 'array'),
    -- What the source is (codec, width, height, fps_num, fps_den,
    -- bitrate_kbps, audio_codec, ...); keys absent until known.
    source              jsonb NOT NULL DEFAULT '{}'
                        CHECK (jsonb_typeof(source) = 'object'),
    -- Next HLS media sequence number: continues across failovers.
    media_sequence      bigint NOT NULL DEFAULT 0 CHECK (media_sequence >= 0),
    CHECK ((state = 'ended') = (ended_at IS NOT NULL)),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX streams_one_open_per_channel ON streams (channel_id)
    WHERE state <> 'ended';
CREATE INDEX streams_channel_started ON streams (channel_id, started_at DESC);
CREATE INDEX streams_open ON streams (state) WHERE state <> 'ended';

-- The placement of a stream on a worker's device. Each (re)placement of a
-- stream gets the next generation; messages carrying an older generation
-- are stale.
CREATE TABLE assignments (
    stream_id    uuid NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    generation   bigint NOT NULL CHECK (generation >= 1),
    worker_id    text NOT NULL REFERENCES workers (id) ON DELETE RESTRICT,
    device_index integer NOT NULL CHECK (device_index >= 0),
    -- The fitted renditions: an array of objects (name, width, height, ...).
    renditions   jsonb NOT NULL DEFAULT '[]'
                 CHECK (jsonb_typeof(renditions) = 'array'),
    state        text NOT NULL DEFAULT 'assigned'
                 CHECK (state IN ('assigned', 'running', 'released',
                                  'failed')),
    assigned_at  timestamptz NOT NULL DEFAULT now(),
    acked_at     timestamptz,
    released_at  timestamptz,
    PRIMARY KEY (stream_id, generation),
    CHECK (state <> 'running' OR acked_at IS NOT NULL),
    CHECK (state NOT IN ('released', 'failed') OR released_at IS NOT NULL)
);
CREATE INDEX assignments_worker_open ON assignments (worker_id)
    WHERE state IN ('assigned', 'running');

-- Per-stream samples from the workers' load reports.
CREATE TABLE stream_stats (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id        uuid NOT NULL REFERENCES streams (id)
                     ON DELETE CASCADE,
    at               timestamptz NOT NULL DEFAULT now(),
    worker_id        text,
    generation       bigint,
    bitrate_kbps     real CHECK (bitrate_kbps >= 0),
    fps              real CHECK (fps >= 0),
    keyframe_interval_s real CHECK (keyframe_interval_s >= 0),
    bytes_in         bigint CHECK (bytes_in >= 0),
    subscribers      integer CHECK (subscribers >= 0),
    -- Output media time over wall time; below 1.0 means falling behind.
    speed            real CHECK (speed >= 0),
    dropped_packets  bigint NOT NULL DEFAULT 0 CHECK (dropped_packets >= 0),
    dropped_frames   bigint NOT NULL DEFAULT 0 CHECK (dropped_frames >= 0),
    renditions       integer CHECK (renditions >= 0),
    last_output_ms   bigint
);
CREATE INDEX stream_stats_stream_at ON stream_stats (stream_id, at DESC);
