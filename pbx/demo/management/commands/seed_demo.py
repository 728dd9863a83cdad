"""Create (or refresh) a demo organisation and print how to sign in and register its devices.

Idempotent: running it again reuses what exists and issues fresh SIP secrets for the demo
devices (secrets are stored only as HA1, so the old ones cannot be shown again).
"""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from devices import services as device_services
from devices.models import Device
from pbx.directory import services
from pbx.directory.models import Extension, Tenant, User
from routing import services as routing_services
from routing.models import RoutingTemplate, Schedule

DEMO_DOMAIN = "demo.pbx.localhost"
DEMO_PASSWORD = "demo-pbx-password"  # noqa: S105 - a published development password
PEOPLE = [
    # email, name, role, extension
    ("admin@demo.pbx.localhost", "Dana Admin", User.Role.TENANT_ADMIN, "200"),
    ("alice@demo.pbx.localhost", "Alice Field", User.Role.MEMBER, "201"),
    ("bob@demo.pbx.localhost", "Bob Office", User.Role.MEMBER, "202"),
]


def _ring(seconds: int, *kinds: str) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "mode": "add",
        "targets": [{"type": "device_kind", "kind": k} for k in kinds],
    }


def _seed_routing(tenant: Tenant, alice: User, bob: User) -> None:
    """Office hours, two templates, Bob on "office", Alice with her own after-hours rule."""
    hours = Schedule.objects.filter(tenant=tenant, owner=None, name="Office hours").first()
    if hours is None:
        hours = routing_services.schedule_create(
            tenant=tenant,
            owner=None,
            name="Office hours",
            weekly=[
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
            ],
            exceptions=[{"date": "2026-12-25"}, {"date": "2027-01-01"}],
        )
    office_document = {
        "plans": [
            {
                "name": "desk, then mobile",
                "stages": [
                    _ring(15, "desk_phone", "softphone", "web_softphone"),
                    _ring(20, "mobile_app"),
                ],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "desk, then mobile",
    }
    field_document = {
        "plans": [
            {
                "name": "mobile",
                "stages": [_ring(30, "mobile_app")],
                "final": {"action": "voicemail"},
            }
        ],
        "default_plan": "mobile",
    }
    templates = {}
    for name, document in (("office", office_document), ("field", field_document)):
        templates[name] = RoutingTemplate.objects.filter(tenant=tenant, name=name).first() or (
            routing_services.routing_template_create(
                tenant=tenant, name=name, document=document, is_default=name == "office"
            )
        )
    routing_services.routing_template_assign(user=bob, template=templates["office"])
    routing_services.routing_document_set(
        user=alice,
        document={
            **office_document,
            "plans": [*office_document["plans"], *field_document["plans"]],
            "rules": [
                {"name": "after hours", "plan": "mobile", "schedule_id": hours.pk, "when": "closed"}
            ],
        },
    )


class Command(BaseCommand):
    help = (
        "Create the demo organisation, its people and one device of each kind; print credentials."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password", default=DEMO_PASSWORD, help="Password for the demo people."
        )

    def handle(self, *args: Any, password: str, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("Refusing to seed demo data in production.")
        with transaction.atomic():
            tenant = Tenant.objects.filter(
                sip_domain=DEMO_DOMAIN
            ).first() or services.tenant_create(
                name="Demo Company", sip_domain=DEMO_DOMAIN, time_zone="Europe/London"
            )
            platform = User.objects.filter(email="platform@pbx.localhost").first()
            if platform is None:
                platform = User.objects.create_superuser(
                    "platform@pbx.localhost", full_name="Platform Staff"
                )
            platform.set_password(password)
            platform.save(update_fields=["password"])
            people = {}
            for email, name, role, number in PEOPLE:
                user = User.objects.filter(email=email).first() or services.user_create(
                    tenant=tenant, email=email, full_name=name, role=role
                )
                user.set_password(password)
                user.save(update_fields=["password"])
                if not Extension.objects.filter(tenant=tenant, number=number).exists():
                    services.extension_create(
                        tenant=tenant, owner=user, number=number, display_name=name
                    )
                people[email] = user
            alice = people["alice@demo.pbx.localhost"]
            _seed_routing(tenant, alice, people["bob@demo.pbx.localhost"])
            issued = []
            for kind, label in Device.Kind.choices:
                device = Device.objects.filter(
                    user=alice, kind=kind, label=f"Demo {label}", revoked_at=None
                ).first()
                if device is None:
                    issued.append(
                        device_services.device_create(user=alice, kind=kind, label=f"Demo {label}")
                    )
                else:
                    issued.append(device_services.device_rotate_secret(device=device))

        out = self.stdout
        out.write(
            self.style.SUCCESS(f"Demo organisation: {tenant.name} (SIP domain {tenant.sip_domain})")
        )
        out.write(
            f"Sign in with password {password!r} (admins set up an authenticator app at their "
            "first sign-in):"
        )
        out.write("  platform@pbx.localhost  (platform admin, /admin/)")
        for email, _, role, number in PEOPLE:
            out.write(f"  {email:<28} {role:<13} extension {number}")
        out.write("SIP credentials of Alice's demo devices (secrets change on every run):")
        out.write(f"  {'kind':<14} {'username':<14} {'secret':<26} realm")
        for credentials in issued:
            device = credentials.device
            out.write(
                f"  {device.kind:<14} {device.sip_username:<14} "
                f"{credentials.secret:<26} {tenant.sip_domain}"
            )
