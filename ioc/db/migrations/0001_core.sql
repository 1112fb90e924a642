-- Core tables: device registry, readings, rollups, dead letters, alerts, users, audit log.
-- Runs on plain PostgreSQL 14+ and on TimescaleDB; Timescale-only DDL lives in ioc/db/timescale.py.
-- Names are unqualified: the migrator puts the configured schema first on the search path.

CREATE TABLE devices (
    device_id      text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    family         text NOT NULL CHECK (family IN ('environment', 'disaster', 'camera', 'tourism')),
    kind           text NOT NULL,
    name           text NOT NULL,
    lon            double precision CHECK (lon BETWEEN -180 AND 180),
    lat            double precision CHECK (lat BETWEEN -90 AND 90),
    district       text,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    expected_interval_s integer NOT NULL DEFAULT 60 CHECK (expected_interval_s > 0),
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_family_district ON devices (family, district);

-- One row per (device, metric, time): the primary key makes a redelivered message a no-op.
CREATE TABLE readings (
    time        timestamptz NOT NULL,
    device_id   text NOT NULL,
    metric      text NOT NULL,
    value       double precision,
    value_text  text,
    unit        text,
    received_at timestamptz NOT NULL DEFAULT now(),
    CHECK (value IS NOT NULL OR value_text IS NOT NULL),
    PRIMARY KEY (device_id, metric, time)
);
CREATE INDEX readings_time ON readings (time DESC);

-- Hourly and daily aggregates per device and metric, maintained by ioc.db.rollups on both
-- PostgreSQL and TimescaleDB, so KPI queries never scan raw readings.
CREATE TABLE reading_rollups (
    bucket      timestamptz NOT NULL,
    width       text NOT NULL CHECK (width IN ('hour', 'day')),
    device_id   text NOT NULL,
    metric      text NOT NULL,
    n           bigint NOT NULL,
    sum         double precision NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    last        double precision NOT NULL,
    last_time   timestamptz NOT NULL,
    PRIMARY KEY (width, device_id, metric, bucket)
);
CREATE INDEX reading_rollups_bucket ON reading_rollups (width, bucket DESC);

-- KPI values: computed from telemetry or imported from reports, per district and period.
CREATE TABLE kpi_values (
    kpi_id        text NOT NULL,
    district      text NOT NULL DEFAULT '',
    period_start  date NOT NULL,
    period        text NOT NULL CHECK (period IN ('day', 'week', 'month', 'quarter', 'year')),
    value         double precision NOT NULL,
    source        text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kpi_id, district, period, period_start)
);

CREATE TABLE dead_letters (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    topic         text NOT NULL,
    payload       bytea NOT NULL,
    payload_size  integer NOT NULL,
    reason        text NOT NULL,
    format        text,
    device_id     text
);
CREATE INDEX dead_letters_received ON dead_letters (received_at DESC);

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9_.-]{1,63}$'),
    display_name   text NOT NULL DEFAULT '',
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('operator', 'police', 'leadership', 'admin')),
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);

CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id         text NOT NULL,
    subject         text NOT NULL,
    family          text,
    kind            text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('info', 'minor', 'moderate', 'severe', 'extreme')),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'assigned', 'resolved', 'false_alarm')),
    title           text NOT NULL,
    district        text,
    device_id       text,
    parent_id       bigint REFERENCES alerts (id),
    count           integer NOT NULL DEFAULT 1,
    first_value     double precision,
    last_value      double precision,
    peak_value      double precision,
    opened_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    assigned_to     text,
    resolved_at     timestamptz,
    escalated_at    timestamptz,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- One open alert per (rule, subject): a second worker's insert fails instead of duplicating.
CREATE UNIQUE INDEX alerts_one_open ON alerts (rule_id, subject)
    WHERE status IN ('open', 'acknowledged', 'assigned');
CREATE INDEX alerts_status_opened ON alerts (status, opened_at DESC);

CREATE TABLE alert_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   bigint NOT NULL REFERENCES alerts (id),
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text NOT NULL,
    action     text NOT NULL,
    note       text,
    data       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

-- Append-only: the trigger below refuses UPDATE and DELETE.
CREATE TABLE audit_log (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    action   text NOT NULL,
    target   text,
    ip       text,
    details  jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Map layers (districts, rivers, points of interest, a province's own zones) as GeoJSON.
CREATE TABLE layer_features (
    layer        text NOT NULL,
    feature_id   text NOT NULL,
    name         text,
    kind         text NOT NULL,
    properties   jsonb NOT NULL DEFAULT '{}'::jsonb,
    geometry     jsonb NOT NULL,
    approximate  boolean NOT NULL DEFAULT false,
    source       text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, feature_id)
);
