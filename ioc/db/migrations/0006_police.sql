-- Police review of camera incidents: decisions with reasons, notes, the custody log of each
-- incident's evidence, and a record of every exported evidence bundle.
-- See dashboards/pages/police.py, ioc/evidence/ and docs/police.md.
--
-- All four tables are append-only (a trigger refuses UPDATE and DELETE): a decision is
-- changed by adding a newer one, so the history a court may ask for is never rewritten.
-- The foreign keys keep an incident that has been reviewed from being deleted.

CREATE FUNCTION police_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

-- Every decision on an incident; its review state is the newest row.
CREATE TABLE incident_reviews (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source    text NOT NULL,
    event_id  text NOT NULL,
    decision  text NOT NULL CHECK (decision IN ('verified', 'dismissed')),
    reason    text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 1000),
    actor     text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (source, event_id) REFERENCES camera_incidents (source, event_id)
);
CREATE INDEX incident_reviews_incident ON incident_reviews (source, event_id, id DESC);

-- Free-text notes of the officers working on an incident.
CREATE TABLE incident_notes (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source    text NOT NULL,
    event_id  text NOT NULL,
    note      text NOT NULL CHECK (length(btrim(note)) BETWEEN 1 AND 2000),
    actor     text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (source, event_id) REFERENCES camera_incidents (source, event_id)
);
CREATE INDEX incident_notes_incident ON incident_notes (source, event_id, id);

-- Chain of custody: who opened, viewed, decided on, annotated or exported an incident's
-- evidence, when and from where. Exported with the evidence (ioc/evidence/bundle.py).
CREATE TABLE evidence_custody (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source    text NOT NULL,
    event_id  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL
              CHECK (action IN ('view', 'view_snapshot', 'verify', 'dismiss', 'note', 'export')),
    ip        text,
    details   jsonb NOT NULL DEFAULT '{}'::jsonb,
    FOREIGN KEY (source, event_id) REFERENCES camera_incidents (source, event_id)
);
CREATE INDEX evidence_custody_incident ON evidence_custody (source, event_id, id);

-- Every evidence bundle handed out: `ioc evidence verify --check-db` finds a bundle's
-- manifest hash here, so an edited manifest is caught even without the HMAC key.
CREATE TABLE evidence_exports (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bundle_id        uuid NOT NULL UNIQUE,
    source           text NOT NULL,
    event_id         text NOT NULL,
    manifest_sha256  text NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
    bundle_sha256    text NOT NULL CHECK (bundle_sha256 ~ '^[0-9a-f]{64}$'),
    files            integer NOT NULL,
    size             bigint NOT NULL,
    signed           boolean NOT NULL,
    actor            text NOT NULL,
    ip               text,
    at               timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (source, event_id) REFERENCES camera_incidents (source, event_id)
);
CREATE INDEX evidence_exports_manifest ON evidence_exports (manifest_sha256);
CREATE INDEX evidence_exports_incident ON evidence_exports (source, event_id, id);

CREATE TRIGGER incident_reviews_no_change BEFORE UPDATE OR DELETE ON incident_reviews
    FOR EACH ROW EXECUTE FUNCTION police_append_only();
CREATE TRIGGER incident_notes_no_change BEFORE UPDATE OR DELETE ON incident_notes
    FOR EACH ROW EXECUTE FUNCTION police_append_only();
CREATE TRIGGER evidence_custody_no_change BEFORE UPDATE OR DELETE ON evidence_custody
    FOR EACH ROW EXECUTE FUNCTION police_append_only();
CREATE TRIGGER evidence_exports_no_change BEFORE UPDATE OR DELETE ON evidence_exports
    FOR EACH ROW EXECUTE FUNCTION police_append_only();

-- The review queue reads recent incidents; the plate path finds one plate on every camera
-- whatever its spelling ('24A-686.68', '24A68668'): the key is upper-case letters and digits.
CREATE INDEX camera_incidents_last_update ON camera_incidents (last_update DESC);
CREATE INDEX camera_incidents_plate_key
    ON camera_incidents ((upper(regexp_replace(plate, '[^0-9A-Za-z]', '', 'g'))), first_seen)
    WHERE plate IS NOT NULL;
