-- Leadership KPIs (ioc/kpi): kpi_values gains a breakdown (a pillar, a kind of certificate, ...)
-- and the numerator/denominator a share was computed from; plus the indexes the KPI page and the
-- telemetry computations read through. kpi_values is written only by ioc.kpi (import, refresh).

ALTER TABLE kpi_values
    ADD COLUMN breakdown   text NOT NULL DEFAULT '',
    ADD COLUMN numerator   double precision,
    ADD COLUMN denominator double precision,
    ADD COLUMN note        text,
    ADD CONSTRAINT kpi_values_fraction CHECK (
        (numerator IS NULL OR numerator >= 0) AND (denominator IS NULL OR denominator >= 0)
    );

-- A breakdown is part of a value's identity: dx_tasks_done_pct for the pillar "awareness" in
-- 2021 is another row than the province's total for 2021.
ALTER TABLE kpi_values DROP CONSTRAINT kpi_values_pkey;
ALTER TABLE kpi_values
    ADD CONSTRAINT kpi_values_pkey PRIMARY KEY (kpi_id, district, breakdown, period, period_start);

-- The district table and the map read one day of every KPI at once.
CREATE INDEX kpi_values_period ON kpi_values (period, period_start DESC);

-- Incidents per day: the telemetry KPIs count camera incidents by start time.
CREATE INDEX kpi_camera_incidents_started ON camera_incidents (started_at);

-- Time to acknowledge and active flood alarms select alerts by opening time.
CREATE INDEX kpi_alerts_opened ON alerts (opened_at);

-- Telemetry KPIs read one metric's hourly rollups over a range of hours (pm25/pm10, entries).
CREATE INDEX kpi_reading_rollups_metric ON reading_rollups (width, metric, bucket);
