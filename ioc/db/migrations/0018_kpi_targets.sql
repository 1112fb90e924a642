-- Targets per plan period set by leadership or an administrator (`ioc kpi targets set`). A row
-- replaces the catalogue file's target of the same KPI and period start; the file stays the
-- default. Each change is audited (kpi.target.set / kpi.target.remove).
CREATE TABLE IF NOT EXISTS kpi_targets (
    kpi_id      text        NOT NULL,
    start       date        NOT NULL,
    due         date        NOT NULL,
    value       double precision NOT NULL,
    basis       text        NOT NULL CHECK (basis IN ('plan', 'national', 'demo')),
    document    text        NOT NULL DEFAULT '',
    note_vi     text,
    note_en     text,
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kpi_id, start),
    CONSTRAINT kpi_targets_period CHECK (due >= start)
);
