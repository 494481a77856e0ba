-- 0004: a stream whose sessions keep failing is marked 'failed' (and still
-- placed again, slowly, while its publisher is there); its last session
-- error is kept with it.

ALTER TABLE streams DROP CONSTRAINT streams_state_check;
ALTER TABLE streams ADD CONSTRAINT streams_state_check
    CHECK (state IN ('pending', 'assigning', 'running', 'recovering',
                     'failed', 'ended'));
-- The error of the stream's last failed session (the worker's words), NULL
-- while none failed.
ALTER TABLE streams ADD COLUMN last_error text;
