"""Factories for tests. Devices are made through the real service so credentials are real."""

import time

import factory
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from factory.django import DjangoModelFactory

from devices import services as device_services
from devices.models import Device
from pbx.directory.models import Extension, PhoneNumber, Tenant, User
from routing.models import Call

PASSWORD = "correct-horse-battery"


class TenantFactory(DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Org {n}")
    sip_domain = factory.Sequence(lambda n: f"org{n}.pbx.test")
    time_zone = "Europe/Paris"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Sequence(lambda n: f"User {n}")
    tenant = factory.SubFactory(TenantFactory)
    role = User.Role.MEMBER
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        if create:
            obj.save()


class ExtensionFactory(DjangoModelFactory[Extension]):
    class Meta:
        model = Extension

    owner = factory.SubFactory(UserFactory)
    tenant = factory.LazyAttribute(lambda o: o.owner.tenant)
    number = factory.Sequence(lambda n: str(100 + n))
    display_name = factory.LazyAttribute(lambda o: o.owner.full_name)


class PhoneNumberFactory(DjangoModelFactory[PhoneNumber]):
    class Meta:
        model = PhoneNumber

    extension = factory.SubFactory(ExtensionFactory)
    tenant = factory.LazyAttribute(lambda o: o.extension.tenant)
    number = factory.Sequence(lambda n: f"+3315555{n:04d}")


class CallFactory(DjangoModelFactory[Call]):
    """A call to `callee` as the engine's events leave it; ringing unless told otherwise."""

    class Meta:
        model = Call

    callee = factory.SubFactory(UserFactory)
    tenant = factory.LazyAttribute(lambda o: o.callee.tenant)
    call_id = factory.Sequence(lambda n: f"call-{n}@pbx.test")
    extension = factory.LazyAttribute(
        lambda o: (
            o.callee.extensions.order_by("number").values_list("number", flat=True).first() or ""
        )
    )
    caller = "+33612345678"
    plan = "ring all"
    reason = "no_answer"
    trace = factory.LazyFunction(lambda: ["No rule matched: default plan 'ring all'."])
    outcome = Call.Outcome.RINGING
    started_at = factory.LazyFunction(timezone.now)


def make_device(user: User, kind: str = Device.Kind.SOFTPHONE, label: str = "Laptop") -> Device:
    return device_services.device_create(user=user, kind=kind, label=label).device


def totp_device(user: User) -> TOTPDevice:
    """A confirmed authenticator app for `user` (the second factor staff and tenant admins
    must have)."""
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def totp_code(device: TOTPDevice, *, steps: int = 0) -> str:
    """The code the authenticator shows now (or `steps` time steps away: django-otp accepts
    one step either side, and each step only once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def verified_login(client: Client, user: User) -> TOTPDevice:
    """Sign `client` in as `user` with the second factor passed, as the sign-in pages leave
    a session (force_login alone is a session that skipped it)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device
