-- The police queue of decisions, plate watchlists, and media fetched for an incident.
-- See ioc/police/, dashboards/pages/police.py and docs/police.md.

-- Plates the police are looking for. `plate_key` is the plate as compared across cameras
-- (upper-case letters and digits: '24A-686.68' = '24A68668'). An entry is removed by setting
-- `removed_at` (the row stays: who added it, why and until when is part of the record);
-- every change is also in the audit log (`watchlist.add`, `watchlist.remove`).
CREATE TABLE police_watchlist (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plate       text NOT NULL CHECK (length(btrim(plate)) BETWEEN 1 AND 32),
    plate_key   text NOT NULL CHECK (plate_key ~ '^[0-9A-Z]{1,32}$'),
    reason      text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 500),
    added_by    text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    removed_by  text,
    removed_at  timestamptz,
    CHECK (expires_at IS NULL OR expires_at > added_at),
    CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);
-- one live entry per plate
CREATE UNIQUE INDEX police_watchlist_live ON police_watchlist (plate_key) WHERE removed_at IS NULL;

-- What needs a police decision: one row per incident that a queue rule (ioc/police/rules.py)
-- or a watchlist hit put in the queue. Ordinary detections are not here. The row is written
-- by the ingest worker with the incident; `priority` only ever rises (max over its messages).
CREATE TABLE police_queue (
    source        text NOT NULL,
    event_id      text NOT NULL,
    device_id     text NOT NULL,
    first_seen    timestamptz NOT NULL,
    priority      smallint NOT NULL CHECK (priority BETWEEN 1 AND 1000),
    rule          text NOT NULL,
    watchlist_id  bigint REFERENCES police_watchlist (id),
    decision      text CHECK (decision IN ('verified', 'dismissed')),  -- the newest review's
    queued_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id),
    FOREIGN KEY (source, event_id) REFERENCES camera_incidents (source, event_id) ON DELETE CASCADE
);
-- the page's order: priority, then newest first, then the key (stable between refreshes)
CREATE INDEX police_queue_order ON police_queue (priority DESC, first_seen DESC, source, event_id);
CREATE INDEX police_queue_time ON police_queue (first_seen DESC);
CREATE INDEX police_queue_device ON police_queue (device_id, first_seen DESC);
-- what still needs a decision (the page's default): its page and its count
CREATE INDEX police_queue_waiting ON police_queue (priority DESC, first_seen DESC, source, event_id)
    WHERE decision IS NULL;
CREATE INDEX police_queue_waiting_time ON police_queue (first_seen DESC) WHERE decision IS NULL;
-- the page's banner: the newest sightings of wanted plates
CREATE INDEX police_queue_hits ON police_queue (first_seen DESC) WHERE watchlist_id IS NOT NULL;

-- A queued incident's decision follows its newest review (incident_reviews is append-only;
-- the queue keeps a copy so "what still needs a decision" is an index, not an anti-join).
CREATE FUNCTION police_queue_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE police_queue SET decision = NEW.decision
     WHERE source = NEW.source AND event_id = NEW.event_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER incident_reviews_queue AFTER INSERT ON incident_reviews
    FOR EACH ROW EXECUTE FUNCTION police_queue_decided();

-- Snapshots and clips fetched from Frigate's HTTP API for an incident; the bytes are in
-- camera_snapshots (content-addressed, the same picture stored once).
CREATE TABLE incident_media (
    source      text NOT NULL,
    event_id    text NOT NULL,
    sha256      text NOT NULL REFERENCES camera_snapshots (sha256),
    kind        text NOT NULL CHECK (kind IN ('snapshot', 'clip')),
    origin      text NOT NULL,
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id, sha256),
    FOREIGN KEY (source, event_id) REFERENCES camera_incidents (source, event_id)
);
