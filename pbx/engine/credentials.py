"""Keeping the engine's credential cache true to `kamailio_subscriber`.

The engine serves digest credentials from memory (htable `creds`, deploy/kamailio/parts/
registrar.cfg). Every write that changes what the view returns for a device (its HA1, whether
it may register at all, its network limit or transport policy) calls
`credentials_forget_on_commit` with the accounts concerned, inside its transaction: once the
change commits, a Celery task deletes their entries, and the next request reads the new row.
"""

from collections.abc import Iterable

from django.db import transaction

from pbx.engine.tasks import forget_credentials


def account_key(*, sip_username: str, sip_domain: str) -> str:
    """The engine's key for a device's credentials: the digest username and realm."""
    return f"{sip_username}@{sip_domain}"


def credentials_forget_on_commit(*, accounts: Iterable[str]) -> None:
    keys = sorted(set(accounts))
    if keys:
        transaction.on_commit(lambda: forget_credentials.delay(keys))
