-- 0005: webhook delivery. The events table is the outbox; each hook (one
-- configured URL) keeps here the id of the last event its receiver
-- acknowledged, so a coordinator restart or a standby's take-over resumes
-- where delivery stopped.
CREATE TABLE webhook_cursors (
    hook          text PRIMARY KEY,
    last_event_id bigint NOT NULL CHECK (last_event_id >= 0),
    delivered     bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The coordinator that moved it last.
    updated_by    text
);
