"""Many accounts for the SIP load: organisations, people with extensions, devices with known
secrets, created in bulk (the device service would cost a second per hundred devices), and
sipp injection files listing them (`-inf`: one line per call, taken in order).

A load from one account measures one usrloc record lock and one credential row; real
traffic comes from thousands of devices, each its own AOR."""

from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils import timezone

from devices.domain import credentials
from devices.models import Device
from pbx.directory.models import Extension, Tenant, User

FIRST_EXTENSION = 1000


@dataclass(frozen=True)
class Account:
    """One device's SIP account, and the person and extension it belongs to."""

    username: str
    domain: str
    secret: str
    ha1: str
    extension: str
    person_id: int


@dataclass(frozen=True)
class Population:
    """People, each with `len(devices[i])` devices; person i of a tenant has extension
    FIRST_EXTENSION + i."""

    people: list[list[Account]]  # per person, their devices

    @property
    def accounts(self) -> list[Account]:
        return [account for person in self.people for account in person]


def populate(
    *, tenants: int, people_per_tenant: int, devices_per_person: int, tag: str
) -> Population:
    """`tenants` organisations of `people_per_tenant` people with `devices_per_person` desk
    phones each. `tag` keeps the names of two populations in one database apart."""
    unusable = make_password(None)
    orgs = Tenant.objects.bulk_create(
        Tenant(
            name=f"Bench {tag} {t}",
            sip_domain=f"{tag}{t}.bench.test",
            time_zone="UTC",
            max_devices_per_user=max(devices_per_person, 5),
        )
        for t in range(tenants)
    )
    users = User.objects.bulk_create(
        User(
            email=f"{tag}-{t}-{p}@bench.test",
            full_name=f"Person {p}",
            tenant=org,
            role=User.Role.MEMBER,
            password=unusable,
        )
        for t, org in enumerate(orgs)
        for p in range(people_per_tenant)
    )
    Extension.objects.bulk_create(
        Extension(
            tenant=user.tenant,
            owner=user,
            number=str(FIRST_EXTENSION + n % people_per_tenant),
            display_name=user.full_name,
        )
        for n, user in enumerate(users)
    )
    now = timezone.now()
    devices: list[Device] = []
    people: list[list[Account]] = []
    for n, user in enumerate(users):
        org = user.tenant
        assert org is not None
        mine = []
        for d in range(devices_per_person):
            username = f"{tag}{n}d{d}"
            secret = f"bench-secret-{username}"
            digest = credentials.digest_credentials(
                username=username, realm=org.sip_domain, secret=secret
            )
            devices.append(
                Device(
                    tenant=org,
                    user=user,
                    kind=Device.Kind.DESK_PHONE,
                    label=f"Desk {d}",
                    sip_username=username,
                    ha1=digest.ha1,
                    ha1b=digest.ha1b,
                    secret_rotated_at=now,
                )
            )
            mine.append(
                Account(
                    username=username,
                    domain=org.sip_domain,
                    secret=secret,
                    ha1=digest.ha1,
                    extension=str(FIRST_EXTENSION + n % people_per_tenant),
                    person_id=user.pk,
                )
            )
        people.append(mine)
    Device.objects.bulk_create(devices, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # plans for the table sizes of the run, as in production
    return Population(people)


def injection_file(path: Path, rows: list[tuple[str, ...]]) -> Path:
    """A sipp injection file: fields separated by ';', read one line per new call in order
    (wrapping around)."""
    path.write_text("SEQUENTIAL\n" + "".join(";".join(row) + "\n" for row in rows))
    return path
