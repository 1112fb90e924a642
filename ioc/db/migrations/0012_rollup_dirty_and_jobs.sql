-- Rollups that follow late and corrected readings, the state of the maintenance jobs, and
-- retention for the append-only audit and police tables. See ioc/db/rollups.py,
-- ioc/db/retention.py, ioc/maintain.py and docs/architecture.md ("Rollups").

-- Which (device, metric, hour) got readings since the last rollup refresh. Ingest adds one row
-- per key per batch in the transaction that stores the readings (ON CONFLICT DO NOTHING); the
-- trigger below adds the keys of readings changed or removed by hand. `ioc maintain` takes the
-- rows (DELETE ... RETURNING, in the transaction that rewrites the rollups) and recomputes
-- exactly those hours and their days.
CREATE TABLE rollup_dirty (
    device_id  text NOT NULL,
    metric     text NOT NULL,
    hour       timestamptz NOT NULL,
    marked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, metric, hour)
);

-- A corrected (UPDATE) or removed (DELETE) reading marks its hour too. Retention on plain
-- PostgreSQL sets ioc.rollups_untracked = 'on' for its DELETE: rollups outlive raw readings.
CREATE FUNCTION readings_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('ioc.rollups_untracked', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    INSERT INTO rollup_dirty (device_id, metric, hour)
    VALUES (OLD.device_id, OLD.metric, date_bin('1 hour', OLD.time, TIMESTAMPTZ '2000-01-01'))
    ON CONFLICT DO NOTHING;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO rollup_dirty (device_id, metric, hour)
        VALUES (NEW.device_id, NEW.metric,
                date_bin('1 hour', NEW.time, TIMESTAMPTZ '2000-01-01'))
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER readings_dirty AFTER UPDATE OR DELETE ON readings
    FOR EACH ROW EXECUTE FUNCTION readings_mark_dirty();

-- One row per maintenance job of `ioc maintain` (rollups, kpis, retention, ...): its last run,
-- result and next run, and how many runs in a row failed (two open an alert).
CREATE TABLE maintenance_jobs (
    job                   text PRIMARY KEY,
    last_start            timestamptz,
    last_finish           timestamptz,
    last_ok               boolean,
    last_error            text,
    last_rows             bigint,
    last_ms               double precision,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    next_run              timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- The audit log and the police records stay append-only, except for the retention of rows
-- older than the period the province's law names: ioc/db/retention.py sets
-- ioc.retention_before (a timestamp) for its DELETE, and no row younger than a year is ever
-- removed whatever that says. UPDATE and TRUNCATE are still refused.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.at < now() - interval '1 year'
           AND OLD.at < nullif(current_setting('ioc.retention_before', true), '')::timestamptz
        THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE OR REPLACE FUNCTION police_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.at < now() - interval '1 year'
           AND OLD.at < nullif(current_setting('ioc.retention_before', true), '')::timestamptz
        THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

-- Indexes the retention deletes use.
CREATE INDEX IF NOT EXISTS alerts_resolved_at ON alerts (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS device_status_time ON device_status (time);
CREATE INDEX IF NOT EXISTS district_hazard_history_at ON district_hazard_history (at);
CREATE INDEX IF NOT EXISTS login_attempts_at ON login_attempts (at);
CREATE INDEX IF NOT EXISTS frigate_reviews_last_update ON frigate_reviews (last_update);
CREATE INDEX IF NOT EXISTS camera_snapshots_time ON camera_snapshots (time);
CREATE INDEX IF NOT EXISTS camera_incidents_snapshot ON camera_incidents (snapshot_sha256)
    WHERE snapshot_sha256 IS NOT NULL;
CREATE INDEX IF NOT EXISTS evidence_exports_at ON evidence_exports (at);
CREATE INDEX IF NOT EXISTS alert_events_at ON alert_events (at);
