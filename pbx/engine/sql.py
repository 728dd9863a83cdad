"""SQL objects Kamailio reads and writes in the project's PostgreSQL database.

Kamailio never sees a plaintext secret: `kamailio_subscriber` exposes the HA1 digests of
devices that may register right now (enabled, not revoked, owner active, organisation active),
so a revoked device is refused on its next REGISTER even before the engine is told, with
what the engine enforces at the edge (allowed networks, transport policy).
"""

# The view's versions: a migration creates each (views cannot be migrated by Django, and a
# migration must keep creating what it created then). A change is a new version, a migration
# that recreates the view with it, and SUBSCRIBER_VIEW pointing at it. Columns are only ever
# appended (CREATE OR REPLACE VIEW keeps the existing ones in place).
SUBSCRIBER_VIEW_V1 = """
CREATE OR REPLACE VIEW kamailio_subscriber AS
SELECT d.sip_username AS username,
       t.sip_domain AS domain,
       d.ha1 AS ha1,
       d.ha1b AS ha1b,
       d.id AS device_id,
       CASE WHEN jsonb_array_length(d.allowed_networks) > 0
              OR jsonb_array_length(t.allowed_registration_networks) > 0
            THEN 1 ELSE 0 END AS network_limited
FROM devices_device d
JOIN directory_tenant t ON t.id = d.tenant_id
JOIN directory_user u ON u.id = d.user_id
WHERE d.enabled AND d.revoked_at IS NULL AND t.is_active AND u.is_active
"""

# + the transport policy in force: the device's own, or its organisation's default (parts/tls.cfg)
SUBSCRIBER_VIEW_V2 = """
CREATE OR REPLACE VIEW kamailio_subscriber AS
SELECT d.sip_username AS username,
       t.sip_domain AS domain,
       d.ha1 AS ha1,
       d.ha1b AS ha1b,
       d.id AS device_id,
       CASE WHEN jsonb_array_length(d.allowed_networks) > 0
              OR jsonb_array_length(t.allowed_registration_networks) > 0
            THEN 1 ELSE 0 END AS network_limited,
       CASE WHEN d.transport_policy = 'inherit' THEN t.default_transport_policy
            ELSE d.transport_policy END AS transport_policy
FROM devices_device d
JOIN directory_tenant t ON t.id = d.tenant_id
JOIN directory_user u ON u.id = d.user_id
WHERE d.enabled AND d.revoked_at IS NULL AND t.is_active AND u.is_active
"""

SUBSCRIBER_VIEW = SUBSCRIBER_VIEW_V2

REGISTRATION_ALLOWED_FUNCTION = """
CREATE OR REPLACE FUNCTION pbx_registration_allowed(p_device_id bigint, p_address text)
RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN
      (jsonb_array_length(d.allowed_networks) = 0 OR EXISTS (
          SELECT 1 FROM jsonb_array_elements_text(d.allowed_networks) AS n(net)
          WHERE p_address::inet <<= n.net::cidr))
      AND (jsonb_array_length(t.allowed_registration_networks) = 0 OR EXISTS (
          SELECT 1 FROM jsonb_array_elements_text(t.allowed_registration_networks) AS n(net)
          WHERE p_address::inet <<= n.net::cidr))
    THEN 1 ELSE 0 END
  FROM devices_device d JOIN directory_tenant t ON t.id = d.tenant_id
  WHERE d.id = p_device_id
$$
"""

# Kamailio's own usrloc schema (5.6, table version 9), under our name, so registrations
# survive an engine restart.
LOCATION_TABLE = """
CREATE TABLE IF NOT EXISTS kamailio_version (
    id SERIAL PRIMARY KEY NOT NULL,
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT kamailio_version_table_name_idx UNIQUE (table_name)
);
CREATE TABLE IF NOT EXISTS kamailio_location (
    id SERIAL PRIMARY KEY NOT NULL,
    ruid VARCHAR(64) DEFAULT '' NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT NULL,
    contact VARCHAR(512) DEFAULT '' NOT NULL,
    received VARCHAR(128) DEFAULT NULL,
    path VARCHAR(512) DEFAULT NULL,
    expires TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL,
    q REAL DEFAULT 1.0 NOT NULL,
    callid VARCHAR(255) DEFAULT 'Default-Call-ID' NOT NULL,
    cseq INTEGER DEFAULT 1 NOT NULL,
    last_modified TIMESTAMP WITHOUT TIME ZONE DEFAULT '2000-01-01 00:00:01' NOT NULL,
    flags INTEGER DEFAULT 0 NOT NULL,
    cflags INTEGER DEFAULT 0 NOT NULL,
    user_agent VARCHAR(255) DEFAULT '' NOT NULL,
    socket VARCHAR(64) DEFAULT NULL,
    methods INTEGER DEFAULT NULL,
    instance VARCHAR(255) DEFAULT NULL,
    reg_id INTEGER DEFAULT 0 NOT NULL,
    server_id INTEGER DEFAULT 0 NOT NULL,
    connection_id INTEGER DEFAULT 0 NOT NULL,
    keepalive INTEGER DEFAULT 0 NOT NULL,
    partition INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT kamailio_location_ruid_idx UNIQUE (ruid)
);
CREATE INDEX IF NOT EXISTS kamailio_location_account_contact_idx
    ON kamailio_location (username, domain, contact);
CREATE INDEX IF NOT EXISTS kamailio_location_expires_idx ON kamailio_location (expires);
INSERT INTO kamailio_version (table_name, table_version) VALUES ('kamailio_location', 9)
    ON CONFLICT (table_name) DO NOTHING;
"""

# Degraded mode: when Django does not answer, the engine rings every device of the called
# extension that may register (it looks each one up in usrloc) and then falls back.
EXTENSION_DEVICES_VIEW = """
CREATE OR REPLACE VIEW kamailio_extension_devices AS
SELECT t.sip_domain AS domain, e.number AS extension, d.sip_username AS username
FROM directory_extension e
JOIN directory_tenant t ON t.id = e.tenant_id
JOIN devices_device d ON d.user_id = e.owner_id
JOIN directory_user u ON u.id = e.owner_id
WHERE d.enabled AND d.revoked_at IS NULL AND t.is_active AND u.is_active
"""

# Bans Django holds that are still in force: the engine restores any it does not have (after a
# restart, its htable is empty) every EDGE_BAN_SYNC_S seconds. A lifted ban is not here.
ACTIVE_BANS_VIEW = """
CREATE OR REPLACE VIEW kamailio_active_bans AS
SELECT DISTINCT ON (b.source_address)
       host(b.source_address) AS address,
       b.reason AS reason,
       GREATEST(1, CEIL(EXTRACT(EPOCH FROM (b.until - now()))))::integer AS seconds_left
FROM edge_sourceban b
WHERE b.lifted_at IS NULL AND b.until > now()
ORDER BY b.source_address, b.until DESC
"""

DROP_ALL = """
DROP VIEW IF EXISTS kamailio_extension_devices;
DROP VIEW IF EXISTS kamailio_subscriber;
DROP FUNCTION IF EXISTS pbx_registration_allowed(bigint, text);
DROP TABLE IF EXISTS kamailio_location;
DROP TABLE IF EXISTS kamailio_version;
"""
