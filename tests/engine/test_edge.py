"""Attacks on the real engine: password guessing banned at the engine without locking out the
office behind the same address, scanners dropped at once, bans lifted through the queue, and
every call held to its caller's organisation and allowed networks."""

import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from devices import services
from devices.models import Device, Registration, RegistrationFailure
from pbx.celery import app as celery_app
from pbx.directory.models import User
from pbx.edge.models import SourceBan
from pbx.engine.client import KamailioJsonRpc
from pbx.engine.process import EdgeLimits, EngineProcess, postgres_url, start_engine
from pbx.tokens.services import api_session_open
from routing.services import routing_document_set
from tests import sip, sip_calls
from tests.engine.office import Office, plan, wait_for
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EDGE_LIMITS = LIMITS = EdgeLimits(
    auth_failures=10,
    auth_failures_known=50,
    account_failures=20,
    ban_seconds=4,
    ban_max_seconds=60,
    ban_sync_seconds=1,
)


# A REGISTER with a wrong password, naming another From user each time (the account counted
# is the digest's); refused (401), throttled (403) or dropped once banned.
GUESS = sip.REGISTER.replace(
    "<sip:{username}@{domain}>;tag=", "<sip:guesser[call_number]@{domain}>;tag="
).replace(
    '<recv response="{expect}"/>',
    '<recv response="401" optional="true" next="done"/>\n'
    '  <recv response="403"/>\n'
    '  <label id="done"/>',
)


def guess_passwords(
    engine: EngineProcess, workdir: Path, *, source: str, username: str, domain: str, tries: int
) -> None:
    """`tries` REGISTERs with wrong passwords for `username` from `source`, as fast as sipp
    sends them (those the engine drops time out after 300 ms). Each names another From user:
    the account counted is the digest's."""
    scenario = GUESS.format(
        username=username,
        domain=domain,
        secret="wrong-guess",
        expires=600,
        user_agent="Linphone/5.2",
    )
    sip.run_sipp(
        engine, scenario, workdir, source=source, calls=tries, rate=1000, wait_ms=300, timeout=60
    )


def exchange(engine: EngineProcess, source: str, request: str, *, wait: float = 0.5) -> str:
    """Send one SIP request (`{port}` and `{n}` filled in) from `source`: the first line of the
    engine's answer, or "" when the engine drops it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(wait)
        text = request.format(source=source, port=sock.getsockname()[1], n=time.monotonic_ns())
        sock.sendto(text.replace("\n", "\r\n").encode(), (engine.host, engine.port))
        try:
            return sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0]
        except TimeoutError:
            return ""


PROBE = """REGISTER sip:probe.invalid SIP/2.0
Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK{n}
From: <sip:probe@probe.invalid>;tag=1
To: <sip:probe@probe.invalid>
Call-ID: probe-{n}
CSeq: 1 REGISTER
Contact: <sip:probe@{source}:{port}>
Max-Forwards: 70
User-Agent: %s
Content-Length: 0

"""

# An in-dialog request of no dialog of ours, naming the engine's Record-Route, to be relayed to
# another host (a loopback address: nothing leaves the machine if the engine relays it).
RELAY = """MESSAGE sip:victim@127.0.0.99:5999 SIP/2.0
Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK{n}
Route: <sip:%s;lr>
From: <sip:a@a.invalid>;tag=1
To: <sip:victim@127.0.0.99>;tag=2
Call-ID: relay-{n}
CSeq: 2 MESSAGE
Max-Forwards: 70
Content-Length: 0

"""

FLOOD = """OPTIONS sip:probe@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK{n}
From: <sip:x@x.invalid>;tag=1
To: <sip:probe@x.invalid>
Call-ID: flood-{n}
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

"""


def answer_of(engine: EngineProcess, source: str, *, user_agent: str = "Yealink T46U") -> str:
    """The answer to a REGISTER without credentials from `source` ("" when dropped)."""
    return exchange(engine, source, PROBE % user_agent)


def test_no_one_can_use_the_engine_as_a_relay_or_end_a_strangers_call(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """Forged in-dialog requests get 481, from an unknown address and from one whose device
    authenticated (the attacker who owns a valid device)."""
    office = Office(engine, sip_dir)
    assert office.register_caller(source="127.0.0.16").ok
    relay = RELAY % f"{engine.host}:{engine.port}"
    bye = relay.replace("MESSAGE", "BYE")

    for source in ("127.0.0.14", "127.0.0.16"):
        for request in (relay, bye):
            assert exchange(engine, source, request, wait=1.0) == (
                "SIP/2.0 481 Call/Transaction Does Not Exist"
            )

    # A scanner's user agent from an address where a device authenticated (one spoofed
    # datagram) loses that request only: the address is not banned.
    assert answer_of(engine, "127.0.0.16", user_agent="friendly-scanner") == ""
    assert answer_of(engine, "127.0.0.16").startswith("SIP/2.0 401")
    assert not SourceBan.objects.filter(source_address="127.0.0.16").exists()


def test_a_party_cannot_use_its_own_call_to_relay_elsewhere(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """Inside a real call the caller sends a MESSAGE with the engine's Route to another host:
    refused; the call itself goes on and ends normally."""
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer")
    relay_in_call = """
  <send><![CDATA[

      MESSAGE sip:x@127.0.0.99:5999 SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 MESSAGE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="403"/>
  <pause milliseconds="300"/>
""".replace("{username}", office.caller_username).replace("{domain}", office.domain)
    scenario = (
        office.caller_scenario()
        .replace('  <pause milliseconds="300"/>\n', relay_in_call, 1)
        .replace("CSeq: 3 BYE", "CSeq: 4 BYE")
    )

    result = sip.run_sipp(engine, scenario, sip_dir, timeout=30, wait_ms=20000)

    assert result.ok, result.output
    assert desk.wait() == 0  # the BYE still reached the desk phone


def test_a_decoy_credentials_header_is_refused(engine: EngineProcess) -> None:
    """$au names the first credentials header; auth_check reads the method's own. Two of them
    would let guesses escape the account's counter."""
    decoy = PROBE.replace(
        "Max-Forwards: 70\n",
        'Proxy-Authorization: Digest username="victim", realm="decoy", nonce="1", uri="sip:x",'
        ' response="0"\nAuthorization: Digest username="victim", realm="probe.invalid",'
        ' nonce="1", uri="sip:x", response="0"\nMax-Forwards: 70\n',
    )

    assert exchange(engine, "127.0.0.17", decoy % "Yealink T46U") == (
        "SIP/2.0 400 Ambiguous Credentials"
    )


def test_what_is_dialled_never_reaches_sql_nor_skips_the_plan(
    engine: EngineProcess, sip_dir: Path, tmp_path: Path
) -> None:
    """A number Django refuses is refused (it once fell back to degraded mode, which rings
    everything); with Django down, degraded mode takes digits only into its SQL."""
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer")
    too_long = office.caller_scenario(expect=400).replace("sip:201@", "sip:" + "2" * 40 + "@")

    result = sip.run_sipp(engine, too_long, sip_dir, timeout=20, wait_ms=10000)

    assert result.ok, result.output
    assert desk.first("INVITE") is None

    blind = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url="http://127.0.0.1:9",  # nothing listens: degraded mode
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=tmp_path / "kamailio-degraded.log",
    )
    try:
        other = Office(blind, sip_dir)
        phone = other.device(Device.Kind.DESK_PHONE, "p", "answer", django_up=False)
        injected = other.caller_scenario(expect=404).replace("sip:201@", "sip:201'OR(1=1)--@")

        result = sip.run_sipp(blind, injected, sip_dir, timeout=20, wait_ms=10000)

        assert result.ok, result.output
        assert phone.first("INVITE") is None
    finally:
        blind.stop()


def failures_from(address: str) -> int:
    return RegistrationFailure.objects.filter(source_address=address).count()


def test_password_guessing_bans_the_address_but_not_the_office_behind_it(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """1,000 wrong passwords from 127.0.0.5 for the caller's account. The caller keeps
    registering and calling from 127.0.0.2; the called person's phone, registered from
    127.0.0.5 before the attack, keeps registering and ringing; the ban then expires."""
    office = Office(engine, sip_dir)
    assert office.register_caller(source="127.0.0.2").ok
    behind = services.device_create(user=office.callee, kind=Device.Kind.DESK_PHONE, label="NAT")
    phone = sip_calls.start_device(
        engine, sip_dir, "nat-desk", sip_calls.device_scenario("answer"), source="127.0.0.5"
    )
    assert sip_calls.register_contact(
        engine,
        sip_dir,
        username=behind.device.sip_username,
        domain=office.domain,
        secret=behind.secret,
        contact_port=phone.port,
        source="127.0.0.5",
    ).ok

    guess_passwords(
        engine,
        sip_dir,
        source="127.0.0.5",
        username=office.caller_username,
        domain=office.domain,
        tries=1000,
    )

    ban = wait_for(lambda: SourceBan.objects.filter(source_address="127.0.0.5").first())
    assert ban.reason == "auth_failures"
    # the address is known (its phone counts for it); another worker's guess may land in between
    assert LIMITS.auth_failures_known <= ban.failures <= LIMITS.auth_failures_known + 2
    assert (ban.until - ban.banned_at).total_seconds() == LIMITS.ban_seconds
    # Reported one by one until the account was throttled (then only counted at the engine);
    # two SIP workers may each pass the gate with the 20th guess in flight.
    time.sleep(0.5)
    reported = failures_from("127.0.0.5")
    guesses = RegistrationFailure.objects.filter(
        source_address="127.0.0.5", username=office.caller_username
    )
    assert LIMITS.account_failures <= guesses.filter(reason="bad_credentials").count() <= 22
    assert guesses.filter(reason="account_throttled").count() == 1
    assert reported == guesses.count()

    # Banned: dropped at the engine, and Django hears nothing more from it.
    assert answer_of(engine, "127.0.0.5") == ""
    guess_passwords(
        engine,
        sip_dir,
        source="127.0.0.5",
        username=office.caller_username,
        domain=office.domain,
        tries=50,
    )
    time.sleep(0.5)
    assert failures_from("127.0.0.5") == reported

    # The caller, from its own address, still registers and calls; the call rings the phone
    # behind the banned address, which answers; that phone re-registers too.
    assert office.register_caller(source="127.0.0.2").ok
    result, _ = office.call(source="127.0.0.2")
    assert result.ok, result.output
    assert phone.wait() == 0
    again = sip.register(
        engine,
        sip_dir,
        username=behind.device.sip_username,
        domain=office.domain,
        secret=behind.secret,
        source="127.0.0.5",
    )
    assert again.ok, again.output

    # The ban expires on its own.
    wait_for(lambda: answer_of(engine, "127.0.0.5").startswith("SIP/2.0 401"), timeout=10)


def test_an_unknown_address_is_banned_after_fewer_failures_and_invites_count_too(
    engine: EngineProcess, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    wrong = office.caller_scenario(secret="not-the-secret")

    sip.run_sipp(engine, wrong, sip_dir, source="127.0.0.8", calls=30, rate=100, wait_ms=300)

    ban = wait_for(lambda: SourceBan.objects.filter(source_address="127.0.0.8").first())
    assert ban.failures == LIMITS.auth_failures
    failures = RegistrationFailure.objects.filter(source_address="127.0.0.8")
    assert failures.count() == LIMITS.auth_failures
    assert set(failures.values_list("method", "reason", "tenant")) == {
        ("INVITE", "bad_credentials", office.tenant.pk)
    }


def test_a_scanner_is_dropped_at_once_and_staff_lift_its_ban_through_the_engine(
    engine: EngineProcess, settings
) -> None:
    settings.PBX_ENGINE_RPC_URL = engine.rpc_url
    assert answer_of(engine, "127.0.0.6", user_agent="Friendly-Scanner 1.8") == ""
    ban = wait_for(lambda: SourceBan.objects.filter(source_address="127.0.0.6").first())
    assert ban.reason == "scanner"
    assert ban.user_agent == "Friendly-Scanner 1.8"
    assert answer_of(engine, "127.0.0.6") == ""  # banned for any user agent now
    assert KamailioJsonRpc(engine.rpc_url).banned_addresses()["127.0.0.6"] == "scanner"

    staff = UserFactory(tenant=None, role=User.Role.PLATFORM_ADMIN)
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_session_open(user=staff, client_name='t').access_token}"
    )
    listed = api.get("/api/v1/bans", {"active": "true"}).json()["results"]
    assert [b["source_address"] for b in listed] == ["127.0.0.6"]
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["engine"], shutdown_timeout=10
    ):
        lifted = api.post(f"/api/v1/bans/{ban.pk}/lift")
        assert lifted.status_code == 200, lifted.content
        assert lifted.json()["active"] is False
        wait_for(lambda: answer_of(engine, "127.0.0.6").startswith("SIP/2.0 401"), timeout=10)
    assert api.get("/api/v1/bans", {"active": "true"}).json()["results"] == []


def test_bans_django_holds_are_restored_in_an_engine_that_lost_them(
    engine: EngineProcess,
) -> None:
    """As after an engine restart: the ban is in Django, not in the engine's memory."""
    assert answer_of(engine, "127.0.0.11").startswith("SIP/2.0 401")
    now = timezone.now()
    SourceBan.objects.create(
        source_address="127.0.0.11",
        reason="auth_failures",
        banned_at=now,
        until=now + timedelta(seconds=30),
    )
    SourceBan.objects.create(  # lifted: not restored
        source_address="127.0.0.12",
        reason="auth_failures",
        banned_at=now,
        until=now + timedelta(seconds=30),
        lifted_at=now,
    )

    wait_for(lambda: answer_of(engine, "127.0.0.11") == "", timeout=6)
    assert KamailioJsonRpc(engine.rpc_url).banned_addresses().get("127.0.0.11") == "auth_failures"
    assert answer_of(engine, "127.0.0.12").startswith("SIP/2.0 401")


def test_a_device_cannot_ring_another_organisation_by_naming_its_domain(
    engine: EngineProcess, sip_dir: Path
) -> None:
    """The caller is in A and dials 201 at B's domain: the call is A's 201, never B's."""
    office_a, office_b = Office(engine, sip_dir), Office(engine, sip_dir)
    theirs = office_b.device(Device.Kind.DESK_PHONE, "b-desk", "answer")
    ours = office_a.device(Device.Kind.DESK_PHONE, "a-desk", "answer")
    scenario = office_a.caller_scenario().replace(
        f"INVITE sip:201@{office_a.domain}", f"INVITE sip:201@{office_b.domain}"
    )

    result = sip.run_sipp(engine, scenario, sip_dir, timeout=30, wait_ms=20000)

    assert result.ok, result.output
    assert ours.wait() == 0
    assert ours.first("INVITE") is not None
    assert theirs.first("INVITE") is None


def test_a_device_outside_its_allowed_networks_cannot_call(
    engine: EngineProcess, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    office.device(Device.Kind.DESK_PHONE, "desk", "answer")
    Device.objects.filter(sip_username=office.caller_username).update(
        allowed_networks=["192.0.2.0/24"]
    )

    result, _ = office.call(expect=403)

    assert result.ok, result.output
    failure = wait_for(
        lambda: RegistrationFailure.objects.filter(username=office.caller_username).first()
    )
    assert (failure.method, failure.reason) == ("INVITE", "network_not_allowed")


def test_a_flood_from_an_unknown_address_is_banned(
    django_db_setup: None, live_server, tmp_path: Path
) -> None:
    flood = EdgeLimits(flood_requests=20, ban_seconds=60)
    process = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=live_server.url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=tmp_path / "kamailio.log",
        edge=flood,
    )
    try:
        answered = [answer_of(process, "127.0.0.9") for _ in range(5)]
        for _ in range(200):
            exchange(process, "127.0.0.9", FLOOD, wait=0.001)
        ban = wait_for(lambda: SourceBan.objects.filter(source_address="127.0.0.9").first())
        assert all(line.startswith("SIP/2.0 401") for line in answered)  # below the limit
        assert ban.reason == "flood"
        assert answer_of(process, "127.0.0.9") == ""
        assert answer_of(process, "127.0.0.10").startswith("SIP/2.0 401")  # others unaffected
    finally:
        process.stop()


def test_a_device_cannot_point_the_engines_invites_at_another_address(
    engine: EngineProcess, tmp_path: Path
) -> None:
    """A valid device registers a Contact at someone else's address (a reflection attack: every
    call to it would send INVITEs there). The engine saves where the REGISTER came from and
    calls go there; the named address gets nothing."""
    office = Office(engine, tmp_path)
    issued = services.device_create(user=office.callee, kind=Device.Kind.DESK_PHONE, label="Liar")
    routing_document_set(
        user=office.callee,
        document=plan((5, "add", [issued.device.pk]), final={"action": "unavailable"}),
    )
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    victim.bind(("127.0.0.77", 0))
    own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    own.bind(("127.0.0.1", 0))
    own_port = own.getsockname()[1]
    own.close()  # sipp registers from it, then it listens again for the INVITE
    scenario = sip.REGISTER.format(
        username=issued.device.sip_username,
        domain=office.domain,
        secret=issued.secret,
        expect=200,
        expires=600,
        user_agent="liar",
    ).replace(
        "@[local_ip]:[local_port];transport=[transport]>",
        f"@127.0.0.77:{victim.getsockname()[1]}>",
    )
    assert sip.run_sipp(engine, scenario, tmp_path, local_port=own_port).ok
    (contact,) = KamailioJsonRpc(engine.rpc_url).registrations(
        aor=f"{issued.device.sip_username}@{office.domain}"
    )
    assert contact["Received"] == f"sip:127.0.0.1:{own_port}", contact
    wait_for(lambda: Registration.objects.filter(device=issued.device).exists())
    own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    own.bind(("127.0.0.1", own_port))
    for sink in (own, victim):
        sink.settimeout(0.2)

    office.call(expect=480)

    def invites(sink: socket.socket) -> int:
        count = 0
        try:
            while True:
                count += sink.recv(65535).startswith(b"INVITE ")
        except TimeoutError:
            return count

    assert invites(own) >= 1
    assert invites(victim) == 0
    own.close()
    victim.close()
