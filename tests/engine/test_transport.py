"""SIP over TLS and each device's transport policy, through the real engine: a device that must
use TLS is refused over UDP and TCP (never downgraded), registers over TLS, and is called over
the very TLS connection it registered on."""

import re
import threading
from pathlib import Path

import pytest

from devices import services
from devices.models import Device, Registration, RegistrationFailure
from pbx.directory.models import TransportPolicy
from pbx.directory.services import tenant_update
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import EngineProcess
from tests.engine.credentials import cached_credentials, engine_worker
from tests.engine.office import Office, wait_for
from tests.factories import TenantFactory, UserFactory
from tests.sip_phone import Message, Phone

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FLB_SRTP = 1 << 9  # kamailio.cfg: the branch flag of contacts that require SRTP


def new_device(
    policy: str = Device.INHERIT, *, default: str = TransportPolicy.ANY
) -> services.IssuedCredentials:
    user = UserFactory(tenant=TenantFactory(default_transport_policy=default))
    return services.device_create(
        user=user, kind=Device.Kind.SOFTPHONE, label="Laptop", transport_policy=policy
    )


def phone_for(engine: EngineProcess, transport: str, tls_files: tuple[Path, Path]) -> Phone:
    if transport == "tls":
        assert engine.tls_port is not None
        return Phone("tls", engine.host, engine.tls_port, cafile=tls_files[0])
    return Phone(transport, engine.host, engine.port)


def register(phone: Phone, issued: services.IssuedCredentials) -> Message:
    return phone.register(
        username=issued.device.sip_username,
        domain=issued.device.tenant.sip_domain,
        secret=issued.secret,
    )


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_device_that_requires_tls_is_refused_over_udp_and_tcp(
    engine: EngineProcess, tls_files: tuple[Path, Path], transport: str
) -> None:
    issued = new_device(TransportPolicy.TLS_SRTP_REQUIRED)
    phone = phone_for(engine, transport, tls_files)
    try:
        response = register(phone, issued)
    finally:
        phone.close()

    assert (response.status, response.reason) == (403, "TLS Required")
    failure = wait_for(lambda: RegistrationFailure.objects.filter(device=issued.device).first())
    assert failure.reason == "transport_policy"
    assert failure.detail == f"transport policy tls_srtp_required: REGISTER over {transport}"
    assert failure.transport == transport
    assert failure.method == "REGISTER"
    assert not Registration.objects.filter(device=issued.device).exists()
    assert KamailioJsonRpc(engine.rpc_url).registrations(aor=aor(issued.device)) == []


def aor(device: Device) -> str:
    return f"{device.sip_username}@{device.tenant.sip_domain}"


def test_a_device_that_requires_tls_registers_over_tls(
    engine: EngineProcess, tls_files: tuple[Path, Path]
) -> None:
    issued = new_device(TransportPolicy.TLS_SRTP_REQUIRED)
    phone = phone_for(engine, "tls", tls_files)
    try:
        response = register(phone, issued)
        registration = wait_for(lambda: Registration.objects.filter(device=issued.device).first())
        contacts = KamailioJsonRpc(engine.rpc_url).registrations(aor=aor(issued.device))
    finally:
        phone.close()

    assert response.status == 200, response.first_line
    assert phone.tls_version in ("TLSv1.2", "TLSv1.3")
    assert registration.transport == "tls"
    assert registration.source_port == phone.local_port
    assert len(contacts) == 1
    # the engine keeps the connection the phone came from, and marks it as needing SRTP
    assert contacts[0]["Received"] == f"sip:127.0.0.1:{phone.local_port};transport=tls"
    assert contacts[0]["Socket"] == f"tls:127.0.0.1:{engine.tls_port}"
    assert contacts[0]["CFlags"] & FLB_SRTP == FLB_SRTP
    assert not RegistrationFailure.objects.filter(device=issued.device).exists()


def test_a_device_with_policy_any_registers_over_udp_whatever_the_default(
    engine: EngineProcess, tls_files: tuple[Path, Path]
) -> None:
    issued = new_device(TransportPolicy.ANY, default=TransportPolicy.TLS_SRTP_REQUIRED)
    phone = phone_for(engine, "udp", tls_files)
    try:
        response = register(phone, issued)
        registration = wait_for(lambda: Registration.objects.filter(device=issued.device).first())
        contacts = KamailioJsonRpc(engine.rpc_url).registrations(aor=aor(issued.device))
    finally:
        phone.close()

    assert response.status == 200, response.first_line
    assert registration.transport == "udp"
    assert contacts[0]["CFlags"] & FLB_SRTP == 0


def test_a_device_that_inherits_follows_its_organisations_default(
    engine: EngineProcess, tls_files: tuple[Path, Path], settings
) -> None:
    issued = new_device(Device.INHERIT, default=TransportPolicy.TLS_SRTP_REQUIRED)
    key = f"{issued.device.sip_username}@{issued.device.tenant.sip_domain}"

    phone = phone_for(engine, "udp", tls_files)
    try:
        refused = register(phone, issued)
        with engine_worker(settings, engine):
            tenant_update(
                tenant=issued.device.tenant, data={"default_transport_policy": TransportPolicy.ANY}
            )
            # the engine's cached credentials (with the policy) are forgotten after commit
            wait_for(lambda: cached_credentials(engine, key) is None, timeout=1)
        allowed = register(phone, issued)
    finally:
        phone.close()

    assert (refused.status, refused.reason) == (403, "TLS Required")
    assert allowed.status == 200, allowed.first_line
    failure = wait_for(lambda: RegistrationFailure.objects.filter(device=issued.device).first())
    assert failure.reason == "transport_policy"
    wait_for(lambda: Registration.objects.filter(device=issued.device, transport="udp").exists())


def test_a_call_reaches_the_tls_phone_over_the_connection_it_registered_on(
    engine: EngineProcess, sip_dir: Path, tls_files: tuple[Path, Path]
) -> None:
    office = Office(engine, sip_dir)
    issued = services.device_create(
        user=office.callee,
        kind=Device.Kind.SOFTPHONE,
        label="tls laptop",
        transport_policy=TransportPolicy.TLS_SRTP_REQUIRED,
    )
    phone = phone_for(engine, "tls", tls_files)
    answered: dict[str, Message] = {}
    errors: list[BaseException] = []

    def answer() -> None:
        try:
            answered["invite"], answered["bye"] = phone.answer_call(issued.device.sip_username)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    try:
        assert register(phone, issued).status == 200
        wait_for(lambda: Registration.objects.filter(device=issued.device).exists())
        callee = threading.Thread(target=answer)
        callee.start()
        result, _ = office.call()
        callee.join(timeout=20)
    finally:
        phone.close()

    assert not errors, errors
    assert result.ok, result.output
    invite, bye = answered["invite"], answered["bye"]
    assert invite.first_line.startswith(f"INVITE sip:{issued.device.sip_username}@127.0.0.1:")
    assert invite.all("Via")[0].startswith(f"SIP/2.0/TLS 127.0.0.1:{engine.tls_port}")
    assert bye.first_line.startswith("BYE ")
    assert [m.method or m.status for m in phone.received if m.method != "OPTIONS"] == [
        401,
        200,
        "INVITE",
        "ACK",
        "BYE",
    ]
    # lookup() put the SRTP flag the contact was saved with on the branch that rang it: the
    # relay offered this phone SRTP (SDES keys) and the plain RTP caller plain RTP
    assert re.search(r"^m=audio \d+ RTP/SAVP ", invite.body, re.M), invite.body
    assert re.search(r"^a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:", invite.body, re.M)
    assert "NULL_HMAC" not in invite.body  # never offered an unencrypted suite
    assert "c=IN IP4 127.0.0.1" in invite.body
    caller_answer = caller_seen_answer(sip_dir)
    assert re.search(r"^m=audio \d+ RTP/AVP ", caller_answer, re.M), caller_answer
    assert "a=crypto" not in caller_answer


def caller_seen_answer(workdir: Path) -> str:
    """The SDP of the 200 OK the (sipp) caller received."""
    for log in workdir.glob("scenario-*-messages.log"):
        text = log.read_text(errors="replace")
        if "INVITE sip:201@" in text:
            answer = text[text.index("SIP/2.0 200 OK") :]
            return answer[answer.index("v=0") : answer.index("-----")]
    raise AssertionError("no caller log")


def test_a_device_that_requires_tls_cannot_call_over_udp(
    engine: EngineProcess, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    caller = Device.objects.get(sip_username=office.caller_username)
    services.device_update(
        device=caller, data={"transport_policy": TransportPolicy.TLS_SRTP_REQUIRED}
    )

    result, _ = office.call(expect=403)

    assert result.ok, result.output
    failure = wait_for(
        lambda: RegistrationFailure.objects.filter(device=caller, method="INVITE").first()
    )
    assert failure.reason == "transport_policy"
    assert failure.detail == "transport policy tls_srtp_required: INVITE over udp"


def test_the_registration_sync_drops_a_contact_its_tightened_policy_forbids(
    engine: EngineProcess, tls_files: tuple[Path, Path], settings
) -> None:
    """The organisation's default became tls_srtp_required while a device that inherits it
    was registered over UDP: the periodic sync drops that contact in the engine."""
    from celery.contrib.testing.worker import start_worker

    from devices.tasks import sync_registrations
    from pbx.celery import app as celery_app

    settings.PBX_ENGINE_RPC_URL = engine.rpc_url
    over_udp = new_device(Device.INHERIT)
    over_tls = services.device_create(
        user=over_udp.device.user, kind=Device.Kind.MOBILE_APP, label="Phone"
    )
    client = KamailioJsonRpc(engine.rpc_url)
    phones = [phone_for(engine, "udp", tls_files), phone_for(engine, "tls", tls_files)]
    try:
        for phone, issued in zip(phones, (over_udp, over_tls), strict=True):
            assert register(phone, issued).status == 200
        wait_for(
            lambda: Registration.objects.filter(device__tenant=over_udp.device.tenant).count() == 2
        )
        tenant_update(
            tenant=over_udp.device.tenant,
            data={"default_transport_policy": TransportPolicy.TLS_SRTP_REQUIRED},
        )
        with start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            queues=["engine"],
            shutdown_timeout=10,
        ):
            outcome = sync_registrations()
            wait_for(lambda: client.registrations(aor=aor(over_udp.device)) == [], timeout=10)
        kept = client.registrations(aor=aor(over_tls.device))
        refused_again = register(phones[0], over_udp)
    finally:
        for phone in phones:
            phone.close()

    assert outcome == {"online": 1, "came_online": 0, "went_offline": 1, "stale": 1}
    assert not Registration.objects.filter(device=over_udp.device).exists()
    assert len(kept) == 1
    assert (refused_again.status, refused_again.reason) == (403, "TLS Required")


def tls_caller(office: Office) -> services.IssuedCredentials:
    """A caller of the office (extension 203) whose device must use TLS and SRTP."""
    from tests.factories import ExtensionFactory

    person = UserFactory(tenant=office.tenant)
    ExtensionFactory(owner=person, number="203")
    return services.device_create(
        user=person,
        kind=Device.Kind.SOFTPHONE,
        label="tls caller",
        transport_policy=TransportPolicy.TLS_SRTP_REQUIRED,
    )


# A device that answers, then hangs up itself: its BYE must reach the caller over the caller's
# own TLS connection (the caller's Contact names a port nothing listens on).
_ANSWER_THEN_HANG_UP = """
  <pause milliseconds="200"/>
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:device@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=device 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv request="ACK"/>
  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$to_header];tag=[pid]SIPpTag01[call_number]
      To: [$from_header]
      Call-ID: [call_id]
      CSeq: 1 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""


def test_a_device_that_requires_tls_calls_over_tls_with_srtp(
    engine: EngineProcess, sip_dir: Path, tls_files: tuple[Path, Path]
) -> None:
    from tests import sip_calls
    from tests.sip_phone import SRTP_OFFER, place_call

    office = Office(engine, sip_dir)
    caller = tls_caller(office)
    scenario = (
        sip_calls._UAS_HEAD.replace(
            '<recv request="INVITE" crlf="true"/>',
            '<recv request="INVITE" crlf="true" rrs="true">\n'
            "    <action>\n"
            '      <ereg regexp="^.*$" search_in="hdr" header="From:" assign_to="from_header"/>\n'
            '      <ereg regexp="^.*$" search_in="hdr" header="To:" assign_to="to_header"/>\n'
            "    </action>\n"
            "  </recv>",
        )
        + _ANSWER_THEN_HANG_UP
    )
    desk = services.device_create(user=office.callee, kind=Device.Kind.DESK_PHONE, label="desk")
    callee = sip_calls.start_device(engine, sip_dir, "hangs-up", scenario)
    registered = sip_calls.register_contact(
        engine,
        sip_dir,
        username=desk.device.sip_username,
        domain=office.domain,
        secret=desk.secret,
        contact_port=callee.port,
    )
    assert registered.ok, registered.output
    wait_for(lambda: Registration.objects.filter(device=desk.device).exists())
    phone = phone_for(engine, "tls", tls_files)
    try:
        assert register(phone, caller).status == 200
        call = place_call(
            phone,
            username=caller.device.sip_username,
            domain=office.domain,
            secret=caller.secret,
            called="201",
            offer=SRTP_OFFER,
        )
        assert call.final.status == 200, call.final.first_line
        bye = phone.receive_request("BYE", timeout=10)
        phone.reply(bye, 200, "OK")
    finally:
        phone.close()

    assert callee.wait() == 0, callee.received()
    assert call.final.status == 200, call.final.first_line
    # the caller's media stays SRTP: the relay answers it with SDES keys of its own
    assert re.search(r"^m=audio \d+ RTP/SAVP ", call.final.body, re.M), call.final.body
    cryptos = re.findall(r"^a=crypto:.*$", call.final.body, re.M)
    assert len(cryptos) == 1, call.final.body  # an answer: one suite, the one offered
    assert cryptos[0].startswith("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:")
    assert bye.first_line.startswith(f"BYE sip:{caller.device.sip_username}@127.0.0.1:")
    assert not RegistrationFailure.objects.filter(device=caller.device).exists()


NULL_SRTP_OFFER = (
    "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40002 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=crypto:1 NULL_HMAC_SHA1_80 inline:a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tr\r\n"
)


@pytest.mark.parametrize("offer", ["plain", "null_cipher"])
def test_a_device_that_requires_srtp_cannot_offer_unencrypted_media(
    engine: EngineProcess, sip_dir: Path, tls_files: tuple[Path, Path], offer: str
) -> None:
    from tests.sip_phone import RTP_OFFER, place_call

    office = Office(engine, sip_dir)
    caller = tls_caller(office)
    phone = phone_for(engine, "tls", tls_files)
    try:
        call = place_call(
            phone,
            username=caller.device.sip_username,
            domain=office.domain,
            secret=caller.secret,
            called="201",
            offer=RTP_OFFER if offer == "plain" else NULL_SRTP_OFFER,
        )
    finally:
        phone.close()

    assert (call.final.status, call.final.reason) == (488, "SRTP Required")
    failure = wait_for(lambda: RegistrationFailure.objects.filter(device=caller.device).first())
    assert (failure.method, failure.reason, failure.transport) == (
        "INVITE",
        "transport_policy",
        "tls",
    )
    assert failure.detail == "transport policy tls_srtp_required: INVITE offers no SRTP"
