"""One organisation with one of everything the API and the portal address by id: a tenant admin
and a member, each with an extension, a mailbox, a voicemail message, devices; a schedule, a
call, a template, a phone number, a failed registration, a ban, a platform superuser. Shared by
the tests that walk every route."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from devices.models import Device, RegistrationFailure
from pbx.directory.models import Extension, PhoneNumber, Tenant, User
from pbx.edge.models import SourceBan
from routing import services as routing_services
from routing.models import Call, RoutingTemplate, Schedule
from tests.factories import (
    CallFactory,
    ExtensionFactory,
    PhoneNumberFactory,
    UserFactory,
    make_device,
)
from voicemail import selectors as voicemail_selectors
from voicemail import services as voicemail_services
from voicemail.domain import audio
from voicemail.models import Mailbox, Message


@dataclass(frozen=True)
class World:
    tenant: Tenant
    admin: User
    member: User
    staff: User
    extension: Extension
    member_extension: Extension
    phone_number: PhoneNumber
    device: Device
    mobile: Device
    member_device: Device
    schedule: Schedule
    template: RoutingTemplate
    call: Call
    mailbox: Mailbox
    message: Message
    member_message: Message
    failure: RegistrationFailure
    ban: SourceBan


def _message(mailbox: Mailbox, call_id: str) -> Message:
    pcm = audio.tone(440, 1.0)
    return voicemail_services.voicemail_deposit(
        mailbox=mailbox,
        call_id=call_id,
        wav=audio.wav_bytes(pcm),
        duration_ms=audio.duration_ms(pcm),
        caller="+33612345678",
        caller_name="",
    ).message


def build_world(*, tenant: Tenant, admin: User, member: User) -> World:
    extension = ExtensionFactory(owner=admin, tenant=tenant, number="701")
    member_extension = ExtensionFactory(owner=member, tenant=tenant, number="702")
    mailbox = voicemail_selectors.mailbox_for_extension(extension=extension)
    member_mailbox = voicemail_selectors.mailbox_for_extension(extension=member_extension)
    device = make_device(admin, Device.Kind.DESK_PHONE, "Desk")
    call = CallFactory(callee=admin, tenant=tenant, outcome=Call.Outcome.ANSWERED)
    return World(
        tenant=tenant,
        admin=admin,
        member=member,
        staff=UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN),
        extension=extension,
        member_extension=member_extension,
        phone_number=PhoneNumberFactory(extension=extension, tenant=tenant),
        device=device,
        mobile=make_device(admin, Device.Kind.MOBILE_APP, "Phone"),
        member_device=make_device(member, Device.Kind.SOFTPHONE, "Laptop"),
        schedule=routing_services.schedule_create(
            tenant=tenant,
            owner=None,
            name="Office hours",
            weekly=[{"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}],
        ),
        template=routing_services.routing_template_create(
            tenant=tenant,
            name="Desk first",
            document={
                "plans": [
                    {
                        "name": "office",
                        "stages": [
                            {
                                "seconds": 15,
                                "targets": [{"type": "device_kind", "kind": "desk_phone"}],
                            }
                        ],
                        "final": {"action": "voicemail"},
                    }
                ],
                "default_plan": "office",
            },
        ),
        call=call,
        mailbox=mailbox,
        message=_message(mailbox, "world-admin-1"),
        member_message=_message(member_mailbox, "world-member-1"),
        failure=RegistrationFailure.objects.create(
            tenant=tenant,
            username="dp-unknown",
            domain=tenant.sip_domain,
            reason="bad_credentials",
            source_address="192.0.2.7",
        ),
        ban=SourceBan.objects.create(
            source_address="192.0.2.7",
            reason=SourceBan.Reason.AUTH_FAILURES,
            banned_at=timezone.now(),
            until=timezone.now() + timedelta(minutes=10),
            failures=20,
        ),
    )
