-- Rollups that follow late and corrected readings, the state of the maintenance jobs, and
-- retention for the append-only (and hash-chained) audit and police tables. See ioc/db/rollups.py,
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
-- older than the period the province's law names. The periods are written by `ioc db migrate`
-- (the owner) from the settings into retention_periods, which the runtime role may only read;
-- prune_records() below (SECURITY DEFINER, callable by the runtime role) deletes what is older
-- than them, setting ioc.retention_before for its own transaction. The row triggers let such a
-- DELETE through only for rows older than that cutoff and older than a year; UPDATE and
-- TRUNCATE are still refused.
CREATE TABLE retention_periods (
    name  text PRIMARY KEY CHECK (name IN ('audit', 'police')),
    days  integer NOT NULL CHECK (days >= 365)
);

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

-- A hash chain pruned at its start: verification begins at start_seq with start_prev (the
-- kept first row's prev_hash) instead of #1 and 64 zeros. Only a prefix is ever removed.
ALTER TABLE hash_chain_heads
    ADD COLUMN start_seq  bigint NOT NULL DEFAULT 1,
    ADD COLUMN start_prev text NOT NULL DEFAULT repeat('0', 64);

CREATE FUNCTION prune_chain_prefix(tbl text, cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    keep_seq  bigint;
    keep_prev text;
    n         bigint;
BEGIN
    -- the first row to keep: the oldest one not older than the cutoff (a chain loses a prefix
    -- only, so a later row with an old `at` keeps everything after the first young row)
    EXECUTE format('SELECT chain_seq, prev_hash FROM %I WHERE at >= $1 '
                   'ORDER BY chain_seq LIMIT 1', tbl)
        INTO keep_seq, keep_prev USING cutoff;
    IF keep_seq IS NULL THEN
        SELECT seq + 1, hash INTO keep_seq, keep_prev FROM hash_chain_heads WHERE chain = tbl;
    END IF;
    EXECUTE format('DELETE FROM %I WHERE chain_seq < $1', tbl) USING keep_seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        UPDATE hash_chain_heads SET start_seq = keep_seq, start_prev = keep_prev
            WHERE chain = tbl;
    END IF;
    RETURN n;
END;
$$;

CREATE FUNCTION prune_records() RETURNS TABLE (tbl text, deleted bigint)
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    audit_cut  timestamptz;
    police_cut timestamptz;
    t          text;
    n          bigint;
BEGIN
    SELECT now() - make_interval(days => days) INTO audit_cut
        FROM retention_periods WHERE name = 'audit';
    SELECT now() - make_interval(days => days) INTO police_cut
        FROM retention_periods WHERE name = 'police';
    IF audit_cut IS NOT NULL THEN
        PERFORM set_config('ioc.retention_before', audit_cut::text, true);
        tbl := 'audit_log';
        deleted := prune_chain_prefix('audit_log', audit_cut);
        RETURN NEXT;
    END IF;
    IF police_cut IS NOT NULL THEN
        PERFORM set_config('ioc.retention_before', police_cut::text, true);
        FOREACH t IN ARRAY ARRAY['incident_reviews', 'incident_notes', 'evidence_custody'] LOOP
            EXECUTE format('DELETE FROM %I WHERE at < $1', t) USING police_cut;
            GET DIAGNOSTICS n = ROW_COUNT;
            tbl := t;
            deleted := n;
            RETURN NEXT;
        END LOOP;
        tbl := 'evidence_exports';
        deleted := prune_chain_prefix('evidence_exports', police_cut);
        RETURN NEXT;
    END IF;
    PERFORM set_config('ioc.retention_before', '', true);
END;
$$;

-- A SECURITY DEFINER function must not find its tables through the caller's search path.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION prune_records() SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION prune_chain_prefix(text, timestamptz) '
                   'SET search_path = %I, pg_temp', current_schema());
END;
$$;
REVOKE ALL ON FUNCTION prune_chain_prefix(text, timestamptz) FROM PUBLIC;

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
