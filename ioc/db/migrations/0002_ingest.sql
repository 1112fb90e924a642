-- Ingest tables: camera incidents, snapshots, Frigate review items, CAP messages, device status.
-- Every table has a natural key so that a redelivered MQTT message never adds a second row.

-- One row per camera incident, merged from its new/update/end messages in any order:
-- first/last times by LEAST/GREATEST, top confidence by GREATEST, zones by union, the
-- "latest" fields from the newest message, and 'end' is final. See ingest/incidents.py.
CREATE TABLE camera_incidents (
    source            text NOT NULL CHECK (source IN ('ioc', 'frigate')),
    event_id          text NOT NULL,
    device_id         text NOT NULL,
    label             text NOT NULL,
    phase             text NOT NULL CHECK (phase IN ('new', 'update', 'end')),
    first_seen        timestamptz NOT NULL,
    started_at        timestamptz NOT NULL,
    last_update       timestamptz NOT NULL,
    ended_at          timestamptz,
    confidence        double precision,
    top_confidence    double precision,
    zones             text[] NOT NULL DEFAULT '{}',
    plate             text,
    plate_confidence  double precision,
    snapshot_sha256   text,
    snapshot_url      text,
    false_positive    boolean NOT NULL DEFAULT false,
    data              jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);
CREATE INDEX camera_incidents_device ON camera_incidents (device_id, last_update DESC);
CREATE INDEX camera_incidents_open ON camera_incidents (last_update DESC) WHERE ended_at IS NULL;

-- Snapshot images, content-addressed: the same picture sent twice is stored once.
CREATE TABLE camera_snapshots (
    sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content       bytea NOT NULL,
    content_type  text NOT NULL,
    size          integer NOT NULL,
    device_id     text NOT NULL,
    label         text,
    time          timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX camera_snapshots_device ON camera_snapshots (device_id, time DESC);

-- Frigate review items (frigate/reviews), merged by review id like incidents.
CREATE TABLE frigate_reviews (
    review_id     text PRIMARY KEY,
    device_id     text NOT NULL,
    phase         text NOT NULL,
    severity      text NOT NULL,
    event_ids     text[] NOT NULL DEFAULT '{}',
    first_seen    timestamptz NOT NULL,
    last_update   timestamptz NOT NULL,
    ended_at      timestamptz,
    data          jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX frigate_reviews_device ON frigate_reviews (device_id, last_update DESC);

-- CAP 1.2 messages; a CAP message is identified by (sender, identifier, sent).
-- refs holds the <references> entries as "sender,identifier,sent" strings.
CREATE TABLE cap_messages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier   text NOT NULL,
    sender       text NOT NULL,
    sent         timestamptz NOT NULL,
    msg_type     text NOT NULL,
    status       text NOT NULL,
    scope        text NOT NULL,
    refs         text[] NOT NULL DEFAULT '{}',
    xml          text NOT NULL,
    parsed       jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sender, identifier, sent)
);
CREATE INDEX cap_messages_sent ON cap_messages (sent DESC);

-- Online/offline history per device.
CREATE TABLE device_status (
    device_id    text NOT NULL,
    time         timestamptz NOT NULL,
    online       boolean NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, time)
);

-- A rejected message redelivered by the broker is dead-lettered once: the ingest worker fills
-- message_sha256 = sha256(topic, NUL, payload). NULLs (other writers) never conflict.
ALTER TABLE dead_letters ADD COLUMN message_sha256 bytea;
CREATE UNIQUE INDEX dead_letters_message ON dead_letters (message_sha256);
