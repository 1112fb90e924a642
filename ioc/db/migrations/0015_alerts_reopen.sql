-- A rule's new occurrence looks up the subject's last resolved alert (alerts.store: re-open it
-- when a person resolved it while the condition still held) and the feed orders alerts by
-- severity, acknowledgement and age (alerts.queries.triage_key); both stay index lookups.
CREATE INDEX alerts_last_resolved ON alerts (rule_id, subject, resolved_at DESC)
    WHERE status = 'resolved' AND parent_id IS NULL;
