-- Hash chains over the audit log and the record of exported evidence bundles, and a
-- signature on each export record. See ioc/evidence/chain.py (`ioc audit verify`) and
-- docs/security.md.
--
-- Each row carries its place in the chain (chain_seq, 1, 2, ...), the previous row's hash
-- (prev_hash; 64 zeros for the first) and its own hash:
--     row_hash = hex(SHA-256(UTF-8(prev_hash || <content>)))
-- where <content> is jsonb_build_array(chain_seq, id, at in UTC, the row's columns)::text
-- (the *_chain_content functions below; the verifier has its own copy of the expressions,
-- so a replaced function is caught too). A row altered, deleted or slipped in between
-- others breaks the chain at that row.
--
-- Why a trigger and not the Python writer: every process that writes these tables (web,
-- alerts, the CLI, and anything an insider runs with the application's login) goes through
-- it, and concurrent inserts are chained one after the other. The lock is the row of the
-- chain's head in hash_chain_heads (SELECT ... FOR UPDATE): under READ COMMITTED a second
-- writer waits and then reads the new head; under REPEATABLE READ it gets a serialization
-- failure instead of forking the chain. The function is SECURITY DEFINER (the owner's
-- rights), so the runtime role needs no right on hash_chain_heads; a role that cannot
-- disable triggers cannot insert an unchained row. The owner can (it can do anything): what
-- the owner changes without rewriting every later row -- and the head -- is detected.

CREATE TABLE hash_chain_heads (
    chain  text PRIMARY KEY,
    seq    bigint NOT NULL,
    hash   text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
INSERT INTO hash_chain_heads (chain, seq, hash)
    VALUES ('audit_log', 0, repeat('0', 64)), ('evidence_exports', 0, repeat('0', 64));

ALTER TABLE audit_log
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash text,
    ADD COLUMN row_hash  text;

-- Export records are signed by the web server with the deployment's Ed25519 key: a row
-- INSERTed by anyone else (without the private key) has no valid signature.
ALTER TABLE evidence_exports
    ADD COLUMN key_id            text,
    ADD COLUMN record_signature  text,
    ADD COLUMN chain_seq bigint,
    ADD COLUMN prev_hash text,
    ADD COLUMN row_hash  text;

CREATE FUNCTION chain_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION audit_log_chain_content(r audit_log) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_array(r.chain_seq, r.id, chain_time(r.at), r.actor, r.action,
                             r.target, r.ip, r.details)::text
$$;

CREATE FUNCTION evidence_exports_chain_content(r evidence_exports) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_array(r.chain_seq, r.id, r.bundle_id::text, r.source, r.event_id,
                             r.manifest_sha256, r.bundle_sha256, r.files, r.size, r.signed,
                             r.actor, r.ip, chain_time(r.at), r.key_id,
                             r.record_signature)::text
$$;

CREATE FUNCTION chain_hash(prev text, content text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(prev || content, 'UTF8')), 'hex')
$$;

CREATE FUNCTION hash_chain_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM hash_chain_heads
        WHERE chain = TG_TABLE_NAME FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hash chain % has no head row', TG_TABLE_NAME;
    END IF;
    NEW.chain_seq := head_seq + 1;
    NEW.prev_hash := head_hash;
    IF TG_TABLE_NAME = 'audit_log' THEN
        NEW.row_hash := chain_hash(head_hash, audit_log_chain_content(NEW));
    ELSE
        NEW.row_hash := chain_hash(head_hash, evidence_exports_chain_content(NEW));
    END IF;
    UPDATE hash_chain_heads SET seq = NEW.chain_seq, hash = NEW.row_hash
        WHERE chain = TG_TABLE_NAME;
    RETURN NEW;
END;
$$;

-- A SECURITY DEFINER function must not find its tables through the caller's search path.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION hash_chain_link() SET search_path = %I, pg_temp',
                   current_schema());
END;
$$;
REVOKE ALL ON FUNCTION hash_chain_link() FROM PUBLIC;

-- Rows written before this migration join the chain in id order.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
ALTER TABLE evidence_exports DISABLE TRIGGER evidence_exports_no_change;
DO $$
DECLARE
    r  record;
    n  bigint;
    h  text;
BEGIN
    n := 0;
    h := repeat('0', 64);
    FOR r IN SELECT id FROM audit_log ORDER BY id LOOP
        n := n + 1;
        UPDATE audit_log a SET chain_seq = n, prev_hash = h WHERE a.id = r.id;
        UPDATE audit_log a SET row_hash = chain_hash(h, audit_log_chain_content(a))
            WHERE a.id = r.id RETURNING a.row_hash INTO h;
    END LOOP;
    UPDATE hash_chain_heads SET seq = n, hash = h WHERE chain = 'audit_log';
    n := 0;
    h := repeat('0', 64);
    FOR r IN SELECT id FROM evidence_exports ORDER BY id LOOP
        n := n + 1;
        UPDATE evidence_exports e SET chain_seq = n, prev_hash = h WHERE e.id = r.id;
        UPDATE evidence_exports e SET row_hash = chain_hash(h, evidence_exports_chain_content(e))
            WHERE e.id = r.id RETURNING e.row_hash INTO h;
    END LOOP;
    UPDATE hash_chain_heads SET seq = n, hash = h WHERE chain = 'evidence_exports';
END;
$$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change;
ALTER TABLE evidence_exports ENABLE TRIGGER evidence_exports_no_change;

ALTER TABLE audit_log ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN row_hash SET NOT NULL;
ALTER TABLE evidence_exports ALTER COLUMN chain_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN row_hash SET NOT NULL;
CREATE UNIQUE INDEX audit_log_chain_seq ON audit_log (chain_seq);
CREATE UNIQUE INDEX evidence_exports_chain_seq ON evidence_exports (chain_seq);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION hash_chain_link();
CREATE TRIGGER evidence_exports_chain BEFORE INSERT ON evidence_exports
    FOR EACH ROW EXECUTE FUNCTION hash_chain_link();
