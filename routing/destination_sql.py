"""The hot path of every call in one round trip: who is called, which of their devices are
registered right now, and the extension of the calling device (PostgreSQL). One text for
Django (routing.decisions) and for the engine's own decisions (routing.in_engine), so both
read exactly the same thing."""

from collections.abc import Sequence
from typing import Any

from routing.routed import Destination

DESTINATION_AND_LIVE_SQL = """
SELECT e.tenant_id, e.owner_id, e.number,
       ARRAY(SELECT DISTINCT r.device_id FROM devices_registration r
             JOIN devices_device d ON d.id = r.device_id
             WHERE d.user_id = e.owner_id AND r.expires_at > %(now)s) AS registered,
       (SELECT x.number FROM directory_extension x
        WHERE x.tenant_id = t.id AND x.owner_id = (
            SELECT c.user_id FROM devices_device c
            WHERE c.tenant_id = t.id AND c.sip_username = %(caller)s)
        ORDER BY x.number LIMIT 1) AS caller_extension
FROM directory_extension e
JOIN directory_tenant t ON t.id = e.tenant_id
JOIN directory_user u ON u.id = e.owner_id
WHERE t.sip_domain = %(domain)s AND t.is_active AND u.is_active AND e.number = (
    CASE WHEN %(called)s LIKE '+%%'
         THEN (SELECT x.number FROM directory_phonenumber p
               JOIN directory_extension x ON x.id = p.extension_id
               WHERE p.number = %(called)s AND p.tenant_id = t.id)
         ELSE %(called)s END)
"""

# The same query as a prepared statement, for a connection that runs it on every call (the
# engine's own decisions): PostgreSQL parses and plans it once per connection, not per call.
# Run PREPARE_DESTINATION_SQL once after connecting, then EXECUTE_DESTINATION_SQL with the same
# parameters as DESTINATION_AND_LIVE_SQL.
_PARAMETERS = {"domain": "text", "called": "text", "caller": "text", "now": "timestamptz"}
PREPARED_DESTINATION = "route_destination"


def _positional(sql: str) -> str:
    for n, name in enumerate(_PARAMETERS, start=1):
        sql = sql.replace(f"%({name})s", f"${n}")
    return sql.replace("%%", "%")


PREPARE_DESTINATION_SQL = (
    f"PREPARE {PREPARED_DESTINATION} ({', '.join(_PARAMETERS.values())}) AS "
    + _positional(DESTINATION_AND_LIVE_SQL)
)
EXECUTE_DESTINATION_SQL = (
    f"EXECUTE {PREPARED_DESTINATION} ({', '.join(f'%({name})s' for name in _PARAMETERS)})"
)


def is_number(caller: str) -> bool:
    """Withheld, E.164 or an extension: rules match it as it is."""
    return not caller or caller.startswith("+") or caller.isdigit()


def destination_from_row(
    row: Sequence[Any], *, caller: str
) -> tuple[Destination, frozenset[int], str]:
    """The query's row as (destination, registered device ids, the caller as rules see it)."""
    identity = caller if is_number(caller) else (row[4] or caller)
    return Destination(row[0], row[1], row[2]), frozenset(row[3]), identity
