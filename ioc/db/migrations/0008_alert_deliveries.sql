-- Durable delivery of alert changes to MQTT and webhooks. The publisher, in the transaction
-- that stamps an alert_events row published, writes one row here per destination with the
-- message to send; a delivery loop per destination claims due rows (FOR UPDATE SKIP LOCKED),
-- sends them and marks them delivered, or schedules a retry with back-off, or gives up on a
-- permanent refusal. Deliveries outlive the worker that queued them: a restarted worker (or
-- another one) picks up what was not delivered.
CREATE TABLE alert_deliveries (
    event_id     bigint NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    destination  text NOT NULL,                 -- 'mqtt' or 'webhook:<url>'
    body         jsonb NOT NULL,                -- the message as it goes out (personal data masked)
    attempts     integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    failed_at    timestamptz,
    last_error   text,
    PRIMARY KEY (event_id, destination)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (destination, next_at, event_id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
