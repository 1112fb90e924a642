-- Ingest workers: who splits the MQTT stream (ingest/membership.py, docs/ingest.md).
-- ingest_membership: every member list ever announced, one row per change (epoch).
-- ingest_views: the member list each worker last committed from its own stream, written in the
-- same transaction as the messages before it, so a restarted worker decides ownership of
-- redelivered messages under the list they were published under.

CREATE TABLE ingest_membership (
    epoch      bigint PRIMARY KEY,
    members    text[] NOT NULL,
    change     text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest_views (
    worker     text PRIMARY KEY,
    epoch      bigint NOT NULL,
    members    text[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
