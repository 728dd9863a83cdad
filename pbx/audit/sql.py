"""The PostgreSQL objects that make the trail append-only (created by migration 0001).

A row-level trigger refuses every UPDATE, and every DELETE except inside `audit_purge(cutoff)`,
the one deliberate way to apply a retention period: it marks its own transaction with the
setting `pbx.audit_purge` (`set_config(..., true)`: local to that transaction), deletes rows
older than the cutoff, and the trigger lets exactly those through. Whoever sets the setting by
hand gets no further than the purge would: no entry younger than MINIMUM_RETENTION (90 days)
can be deleted at all, so the recent history an investigation needs cannot be erased through
the application's connection. TRUNCATE is not refused: it
needs the table owner's privilege, and the test runner empties tables with it between tests.
This holds the application (and anyone holding its connection) to the rule; the owner of the
database can still drop the trigger, which is a different threat, answered by backups and the
database's own logs.
"""

MINIMUM_RETENTION_DAYS = 90  # written into the trigger below

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_entry_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND NULLIF(current_setting('pbx.audit_purge', true), '') IS NOT NULL
       AND OLD.at < current_setting('pbx.audit_purge', true)::timestamptz
       AND OLD.at < now() - interval '90 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_entry_append_only
    BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_refuse_change();

CREATE OR REPLACE FUNCTION audit_purge(cutoff timestamptz) RETURNS bigint AS $$
DECLARE
    removed bigint;
BEGIN
    cutoff := LEAST(cutoff, now() - interval '90 days');
    PERFORM set_config('pbx.audit_purge', cutoff::text, true);
    DELETE FROM audit_auditentry WHERE at < cutoff;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('pbx.audit_purge', '', true);
    RETURN removed;
END;
$$ LANGUAGE plpgsql;
"""

DROP = """
DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry;
DROP FUNCTION IF EXISTS audit_entry_refuse_change();
DROP FUNCTION IF EXISTS audit_purge(timestamptz);
"""
