-- Alerts: admin-editable rules, lifecycle columns, the outbox of alert changes, rule state
-- shared by several alert workers, air-quality indices and disaster levels per district.

-- Rules an administrator added or changed; they override the rules file by rule_id.
-- `definition` has the shape of one entry of alerts/rules/default.yaml (validated on save).
CREATE TABLE alert_rules (
    rule_id     text PRIMARY KEY CHECK (rule_id ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    definition  jsonb NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE alerts
    ADD COLUMN public           boolean NOT NULL DEFAULT false,
    ADD COLUMN escalation_level integer NOT NULL DEFAULT 0,
    ADD COLUMN acknowledged_by  text,
    ADD COLUMN resolved_by      text,
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now(),
    -- severity before the last open-or-update: how an upsert tells that severity changed,
    -- even when it raced another worker's insert (a subquery's snapshot would miss that row)
    ADD COLUMN previous_severity text;
CREATE INDEX alerts_parent ON alerts (parent_id) WHERE parent_id IS NOT NULL;
-- Storm control counts recent alerts of one kind in one district.
CREATE INDEX alerts_kind_district ON alerts (kind, district, opened_at DESC)
    WHERE status IN ('open', 'acknowledged', 'assigned');
CREATE INDEX alerts_active_rule ON alerts (rule_id)
    WHERE status IN ('open', 'acknowledged', 'assigned');

-- alert_events doubles as the outbox: a worker claims unpublished rows (FOR UPDATE SKIP
-- LOCKED), sends them to Redis, MQTT and webhooks, and stamps published_at.
ALTER TABLE alert_events ADD COLUMN published_at timestamptz;
UPDATE alert_events SET published_at = at;
CREATE INDEX alert_events_unpublished ON alert_events (id) WHERE published_at IS NULL;

-- A condition that has to hold for a while before its alert opens (rule `for_s`): when it
-- started, shared by every worker.
CREATE TABLE alert_pending (
    rule_id     text NOT NULL,
    subject     text NOT NULL,
    since       timestamptz NOT NULL,
    level       integer NOT NULL,
    last_value  double precision,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, subject)
);

-- Latest air-quality index per station and scale (ioc.aqi), written by the alerts worker.
CREATE TABLE air_quality_index (
    device_id    text NOT NULL,
    standard     text NOT NULL CHECK (standard IN ('vn_aqi', 'us_epa')),
    aqi          integer NOT NULL CHECK (aqi BETWEEN 0 AND 500),
    category     integer NOT NULL CHECK (category BETWEEN 1 AND 6),
    dominant     text NOT NULL,
    sub_indices  jsonb NOT NULL DEFAULT '{}'::jsonb,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, standard)
);

-- Disaster risk level per district (Decision 18/2021 style, 0 = none, 1..5), from station
-- alarm levels and rainfall, with the uplift for combined hazards. The dashboards read it.
CREATE TABLE district_hazard_levels (
    district     text PRIMARY KEY,
    level        integer NOT NULL CHECK (level BETWEEN 0 AND 5),
    base_level   integer NOT NULL CHECK (base_level BETWEEN 0 AND 5),
    uplift       integer NOT NULL DEFAULT 0,
    colour       text NOT NULL,
    label        text NOT NULL,
    hazards      jsonb NOT NULL DEFAULT '{}'::jsonb,
    basis        jsonb NOT NULL DEFAULT '{}'::jsonb,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE district_hazard_history (
    district   text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    level      integer NOT NULL,
    hazards    jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (district, at)
);
