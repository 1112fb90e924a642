-- The audit log is append-only: 0001's row trigger refuses UPDATE and DELETE, but TRUNCATE
-- fires no row triggers. This statement trigger refuses it too.
-- DROP TABLE / DROP SCHEMA ... CASCADE (how a test schema is removed) fire no trigger and
-- still work: removing the whole installation is not rewriting its history.

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
