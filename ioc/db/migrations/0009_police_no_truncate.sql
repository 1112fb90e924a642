-- The police records (reviews, notes, chain of custody, exports) are append-only through
-- 0006's row triggers; TRUNCATE fires no row trigger, so these statement triggers refuse it
-- as 0007 does for the audit log.
CREATE TRIGGER incident_reviews_no_truncate BEFORE TRUNCATE ON incident_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION police_append_only();
CREATE TRIGGER incident_notes_no_truncate BEFORE TRUNCATE ON incident_notes
    FOR EACH STATEMENT EXECUTE FUNCTION police_append_only();
CREATE TRIGGER evidence_custody_no_truncate BEFORE TRUNCATE ON evidence_custody
    FOR EACH STATEMENT EXECUTE FUNCTION police_append_only();
CREATE TRIGGER evidence_exports_no_truncate BEFORE TRUNCATE ON evidence_exports
    FOR EACH STATEMENT EXECUTE FUNCTION police_append_only();
