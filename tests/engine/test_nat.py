"""Calls across a real NAT: the engine, the media relay and the voicemail agent in one network
namespace, a home router doing masquerade (nftables) in another, a sipp phone behind it, and a
caller on the far side (tests/netlab.py). Real Kamailio, rtpengine, sipp, PostgreSQL, Django.

What a phone behind a router needs from the PBX, each proven here: its REGISTER is saved with
the NAT's public address and port; a call reaches it there; audio flows both ways through the
relay (each side's tone is what the other side received); its message lamp NOTIFY reaches it;
a voicemail left from behind the NAT holds the caller's tone; an idle NAT mapping is kept open
by the engine's keepalive pings.
"""

import io
import json
import os
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devices import services
from devices.models import Device, Registration
from pbx.engine.client import KamailioJsonRpc, received_address
from pbx.engine.media_relay import (
    MediaRelayProcess,
    MediaRelaySettings,
    StreamCounts,
    start_media_relay,
    stream_counts,
)
from pbx.engine.process import EngineProcess, postgres_url, start_engine
from routing.services import routing_document_set
from tests import netlab
from tests import sip_calls as sip
from tests.engine.office import wait_for
from tests.factories import ExtensionFactory, TenantFactory, UserFactory
from tests.netlab import Datagram, NatLab
from voicemail import selectors as voicemail_selectors
from voicemail import services as voicemail_services
from voicemail.domain import audio, g711
from voicemail.models import Message
from voicemail.tasks import send_mwi

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(bool(netlab.available()), reason=netlab.available() or "ok"),
]

ROOT = Path(__file__).resolve().parents[2]
SIP_PORT = 5060
VOICEMAIL_PORT = 5070
MEDIA_CONTROL_PORT = 2223
PHONE_SIP_PORT = 5062
PHONE_MEDIA_PORT = 16000
CALLER_MEDIA_PORT = 18000
CALLER_TONE_HZ = 1000
PHONE_TONE_HZ = 440
NAT_IDLE_S = 5
KEEPALIVE_S = 2


@dataclass
class Lab:
    net: NatLab
    engine: EngineProcess
    relay: MediaRelayProcess
    workdir: Path
    runs: int = 0
    latest: dict[str, str] = field(default_factory=dict)  # a peer's name -> its latest run's

    def relay_query(self) -> dict:
        """rtpengine's view of every call it holds (its control socket is in the namespace)."""
        script = (
            "import json,sys\n"
            "from pbx.engine.media_relay import NgClient\n"
            f"c = NgClient('127.0.0.1', {MEDIA_CONTROL_PORT})\n"
            "print(json.dumps({i: c.query(i) for i in c.calls()}, default=str))\n"
        )
        out = subprocess.run(  # noqa: S603
            self.net.exec_args("pbx", [sys.executable, "-c", script]),
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        return json.loads(out.stdout)

    def sipp(
        self,
        role: str,
        address: str,
        scenario: str,
        name: str,
        *,
        port: int,
        media_port: int,
        extra: tuple[str, ...] = (),
        calls: int = 1,
    ) -> subprocess.Popen[bytes]:
        self.runs += 1
        self.latest[name] = name = f"{name}-{self.runs}"
        path = self.workdir / f"{name}.xml"
        path.write_text(scenario)
        args = [
            sip.SIPP,
            f"{netlab.PBX_ADDRESS}:{SIP_PORT}",
            "-sf", str(path),
            "-i", address,
            "-p", str(port),
            "-mp", str(media_port),
            "-m", str(calls),
            "-timeout", "60s",
            "-timeout_error",
            "-recv_timeout", "30000",
            "-nostdin",
            "-trace_msg",
            "-message_file", str(self.workdir / f"{name}-messages.log"),
            "-trace_err",
            "-error_file", str(self.workdir / f"{name}-errors.log"),
            *extra,
        ]  # fmt: skip
        return self.net.start(role, args, self.workdir / f"{name}.out")

    def messages(self, name: str) -> str:
        path = self.workdir / f"{self.latest.get(name, name)}-messages.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module")
def lab(django_db_setup: None, live_server, tmp_path_factory) -> Iterator[Lab]:
    workdir = tmp_path_factory.mktemp("natlab")
    # the router forgets an idle mapping after NAT_IDLE_S; the engine pings every KEEPALIVE_S
    net = NatLab(workdir, udp_timeout=NAT_IDLE_S)
    try:
        net.build()
        net.bridge_in("pbx", int(connection.settings_dict.get("PORT") or 5432))
        django_port = int(live_server.url.rsplit(":", 1)[1])
        net.bridge_in("pbx", django_port)
        rpc_port = net.bridge_out("pbx", netlab.PBX_ADDRESS, SIP_PORT)
        relay = start_media_relay(
            MediaRelaySettings(
                address=netlab.PBX_ADDRESS,
                port_min=30000,
                port_max=30099,
                control_port=MEDIA_CONTROL_PORT,
            ),
            log_path=workdir / "rtpengine.log",
            netns=net.ns("pbx"),
        )
        net.processes.append(relay.process)
        agent_env = dict(os.environ) | {
            "PBX_VOICEMAIL_LISTEN": f"{netlab.PBX_ADDRESS}:{VOICEMAIL_PORT}",
            "PBX_DJANGO_INTERNAL_URL": f"http://127.0.0.1:{django_port}",
            "PBX_ENGINE_TOKEN": settings.PBX_ENGINE_TOKEN,
            "PBX_VOICEMAIL_SPOOL": str(workdir / "spool"),
            "PBX_VOICEMAIL_MAX_SILENCE": "6",
        }
        agent_log = workdir / "agent.log"
        net.processes.append(
            subprocess.Popen(  # noqa: S603
                net.exec_args("pbx", [sys.executable, "-m", "voicemail.agent"]),
                cwd=ROOT,
                env=agent_env,
                stdout=agent_log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_for(lambda: "listening" in agent_log.read_text(), timeout=30)
        engine = start_engine(
            db_url=postgres_url(connection.settings_dict),
            django_url=f"http://127.0.0.1:{django_port}",
            token=settings.PBX_ENGINE_TOKEN,
            host=netlab.PBX_ADDRESS,
            port=SIP_PORT,
            workers=2,
            log_path=workdir / "kamailio.log",
            rpc_allow=f"{netlab.PBX_ADDRESS}/32",
            voicemail_uri=f"sip:{netlab.PBX_ADDRESS}:{VOICEMAIL_PORT}",
            media_relay=f"udp:127.0.0.1:{MEDIA_CONTROL_PORT}",
            netns=net.ns("pbx"),
            rpc_via=f"http://127.0.0.1:{rpc_port}/RPC",
            keepalive=(KEEPALIVE_S, 30),
        )
        net.processes.append(engine.process)
        yield Lab(net, engine, relay, workdir)
    finally:
        net.teardown()


# --- the phone behind the router ----------------------------------------------------------


_OK = """
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
"""

# What reaches the phone outside its REGISTER (sipp's out-of-call scenario, same socket, so
# through the same NAT mapping): keepalive OPTIONS, the lamp's NOTIFY, and a call it answers,
# sending its own tone until the caller hangs up.
PHONE_ANSWERS = (
    """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="what the phone behind the router receives">
  <recv request="OPTIONS" optional="true" next="ok"/>
  <recv request="NOTIFY" optional="true" next="ok"/>
  <recv request="INVITE"/>
  <send><![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=phone 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv request="ACK"/>
  <nop><action><exec rtp_stream="{tone},1,0"/></action></nop>
  <recv request="BYE"/>
"""
    + _OK
    + """  <nop next="end"/>
  <label id="ok"/>
"""
    + _OK
    + """  <label id="end"/>
</scenario>
"""
)


@dataclass
class Parties:
    domain: str
    phone_device: Device
    phone_secret: str
    caller_username: str
    caller_secret: str
    callee_extension: object


def parties() -> Parties:
    tenant = TenantFactory()
    callee = UserFactory(tenant=tenant)
    extension = ExtensionFactory(owner=callee, number="201")
    issued = services.device_create(user=callee, kind=Device.Kind.DESK_PHONE, label="Home desk")
    routing_document_set(
        user=callee,
        document={
            "plans": [
                {
                    "name": "p",
                    "stages": [
                        {
                            "seconds": 8,
                            "mode": "add",
                            "targets": [{"type": "device", "device_id": issued.device.pk}],
                        }
                    ],
                    "final": {"action": "voicemail"},
                }
            ],
            "default_plan": "p",
        },
    )
    caller = UserFactory(tenant=tenant)
    ExtensionFactory(owner=caller, number="202")
    calling = services.device_create(user=caller, kind=Device.Kind.SOFTPHONE, label="Far caller")
    return Parties(
        tenant.sip_domain,
        issued.device,
        issued.secret,
        calling.device.sip_username,
        calling.secret,
        extension,
    )


def tone_file(workdir: Path, hz: int, seconds: float) -> Path:
    path = workdir / f"tone-{hz}.ulaw"
    path.write_bytes(g711.encode(audio.tone(hz, seconds), g711.PCMU))
    return path


def start_phone(
    lab: Lab, who: Parties, *, stay_ms: int = 20000, tcp: bool = False
) -> subprocess.Popen[bytes]:
    """The phone behind the router; over TCP (`tcp`) it keeps the one connection it opened,
    and nothing can connect to it from outside (the router has no mapping for that)."""
    answers = lab.workdir / "phone-answers.xml"
    answers.write_text(
        PHONE_ANSWERS.replace("{tone}", str(tone_file(lab.workdir, PHONE_TONE_HZ, 2.5)))
    )
    return lab.sipp(
        "phone",
        netlab.PHONE_ADDRESS,
        # the project's REGISTER, then the phone stays up (its socket, its NAT mapping)
        sip.REGISTER.format(
            domain=who.domain,
            username=who.phone_device.sip_username,
            secret=who.phone_secret,
            expect=200,
            expires=600,
            user_agent="sipp-behind-nat",
        ).replace("</scenario>", f'  <pause milliseconds="{stay_ms}"/>\n</scenario>'),
        "phone",
        port=PHONE_SIP_PORT,
        media_port=PHONE_MEDIA_PORT,
        extra=("-oocsf", str(answers), *(("-t", "t1") if tcp else ())),
    )


def start_caller(
    lab: Lab, who: Parties, *, role: str, address: str, talk_ms: int = 3000, wait_ms: int = 200
) -> subprocess.Popen[bytes]:
    scenario = sip.voicemail_caller_scenario(
        username=who.caller_username,
        secret=who.caller_secret,
        domain=who.domain,
        called="201",
        audio=tone_file(lab.workdir, CALLER_TONE_HZ, 2.5),
        wait_ms=wait_ms,
        talk_ms=talk_ms,
    )
    return lab.sipp(
        role, address, scenario, f"caller-{role}", port=5064, media_port=CALLER_MEDIA_PORT
    )


def rtp_to(datagrams: list[Datagram], address: str, port: int) -> list[bytes]:
    """The RTP payloads (PCMU) that arrived at `address`:`port`."""
    return [
        d.payload[12:]
        for d in datagrams
        if d.destination == address
        and d.destination_port == port
        and len(d.payload) > 12
        and d.payload[0] >> 6 == 2
    ]


def rtp_from(datagrams: list[Datagram], address: str) -> list[Datagram]:
    return [
        d
        for d in datagrams
        if d.source == address and len(d.payload) > 12 and d.payload[0] >> 6 == 2
    ]


def pcm(payloads: list[bytes]) -> bytes:
    return g711.decode(b"".join(payloads), g711.PCMU)


def registered_contact(lab: Lab, who: Parties) -> dict:
    rpc = KamailioJsonRpc(lab.engine.rpc_url)
    contacts = rpc.registrations(aor=f"{who.phone_device.sip_username}@{who.domain}")
    assert len(contacts) == 1, contacts
    return contacts[0]


# --- the tests -------------------------------------------------------------------------------


def test_a_phone_behind_nat_is_called_at_the_nat_and_audio_flows_both_ways(lab: Lab) -> None:
    who = parties()
    phone = start_phone(lab, who)
    wait_for(lambda: Registration.objects.filter(device=who.phone_device).exists(), timeout=10)

    # The engine keeps where the REGISTER came from: the router's public side, a port the
    # router chose (masquerade random), not the phone's private address.
    contact = registered_contact(lab, who)
    received = received_address(contact)
    assert received.startswith(f"sip:{netlab.ROUTER_WAN}:"), contact
    assert received != f"sip:{netlab.ROUTER_WAN}:{PHONE_SIP_PORT}", contact
    assert netlab.PHONE_ADDRESS in contact["Address"]  # its own Contact, kept as it said

    at_phone = lab.net.capture("phone", "l1", "at-phone")
    at_caller = lab.net.capture("far", "f1", "at-caller")
    caller = start_caller(lab, who, role="far", address=netlab.FAR_ADDRESS)
    # while the two talk: the relay's own counts, per party
    time.sleep(2.5)
    held = lab.relay_query()
    assert caller.wait(timeout=40) == 0, lab.messages("caller-far") + lab.engine.log()[-3000:]
    heard_by_phone = at_phone.stop()
    heard_by_caller = at_caller.stop()
    phone.terminate()

    assert "INVITE sip:" in lab.messages("phone")
    # the phone received the caller's tone, from the relay, on its private address
    to_phone = rtp_to(heard_by_phone, netlab.PHONE_ADDRESS, PHONE_MEDIA_PORT)
    assert len(to_phone) >= 50, len(to_phone)
    assert audio.tone_power(pcm(to_phone), CALLER_TONE_HZ) > 0.5
    assert audio.tone_power(pcm(to_phone), PHONE_TONE_HZ) < 0.05
    # and the caller the phone's, also from the relay
    to_caller = rtp_to(heard_by_caller, netlab.FAR_ADDRESS, CALLER_MEDIA_PORT)
    assert len(to_caller) >= 50, len(to_caller)
    assert {d.source for d in rtp_from(heard_by_caller, netlab.PBX_ADDRESS)} == {netlab.PBX_ADDRESS}
    assert audio.tone_power(pcm(to_caller), PHONE_TONE_HZ) > 0.5
    assert audio.tone_power(pcm(to_caller), CALLER_TONE_HZ) < 0.05
    # both sent: the phone's RTP left its private address and reached the relay via the NAT
    assert len(rtp_from(heard_by_phone, netlab.PHONE_ADDRESS)) >= 50
    # the relay counted packets from both parties, the phone's from the NAT's public side
    (call,) = held.values()
    counts: list[StreamCounts] = stream_counts(call)
    from_nat = [c for c in counts if c.address.startswith(netlab.ROUTER_WAN + ":")]
    from_far = [c for c in counts if c.address.startswith(netlab.FAR_ADDRESS + ":")]
    assert from_nat, counts
    assert from_nat[0].packets >= 20, counts
    assert from_far, counts
    assert from_far[0].packets >= 20, counts
    # the call is over for the relay too
    wait_for(lambda: lab.relay_query() == {}, timeout=5)


def test_a_phone_behind_nat_gets_its_message_lamp(lab: Lab, settings) -> None:
    settings.PBX_ENGINE_RPC_URL = lab.engine.rpc_url
    who = parties()
    phone = start_phone(lab, who, stay_ms=8000)
    wait_for(lambda: Registration.objects.filter(device=who.phone_device).exists(), timeout=10)
    mailbox = voicemail_selectors.mailbox_for_extension(extension=who.callee_extension)

    assert send_mwi.run(mailbox_id=mailbox.pk) == 1

    wait_for(lambda: "NOTIFY sip:" in lab.messages("phone"), timeout=8)
    phone.terminate()
    notify = lab.messages("phone")
    assert "Event: message-summary" in notify
    assert "Messages-Waiting: no" in notify


def test_a_caller_behind_nat_leaves_a_voicemail_that_holds_their_tone(lab: Lab) -> None:
    who = parties()
    mailbox = voicemail_selectors.mailbox_for_extension(extension=who.callee_extension)
    voicemail_services.greeting_set(
        mailbox=mailbox, kind="unavailable", data=audio.wav_bytes(audio.tone(300, 0.3))
    )
    # nobody is registered for 201: the call goes to voicemail at once; the caller is the
    # one behind the router this time
    caller = start_caller(
        lab, who, role="phone", address=netlab.PHONE_ADDRESS, talk_ms=3300, wait_ms=1200
    )
    assert caller.wait(timeout=40) == 0, lab.messages("caller-phone") + lab.engine.log()[-3000:]

    message = wait_for(lambda: Message.objects.filter(mailbox=mailbox).first(), timeout=15)
    with message.audio.open("rb") as stored, wave.open(io.BytesIO(stored.read())) as wav:
        recorded = wav.readframes(wav.getnframes())
    assert message.duration_ms >= 1500, message.duration_ms
    assert audio.tone_power(recorded, CALLER_TONE_HZ) > 0.5
    assert audio.tone_power(recorded, 300) < 0.05  # not the greeting


def test_the_engine_keeps_an_idle_nat_mapping_open(lab: Lab) -> None:
    """The phone sends nothing after its REGISTER; the router would forget its mapping after
    NAT_IDLE_S, and a call would then never reach it. The engine's pings keep it open."""
    who = parties()
    phone = start_phone(lab, who, stay_ms=30000)
    wait_for(lambda: Registration.objects.filter(device=who.phone_device).exists(), timeout=10)
    time.sleep(NAT_IDLE_S * 2)

    caller = start_caller(lab, who, role="far", address=netlab.FAR_ADDRESS, talk_ms=500)
    assert caller.wait(timeout=40) == 0, lab.messages("caller-far") + lab.engine.log()[-3000:]
    phone.terminate()
    received = lab.messages("phone")
    assert "INVITE sip:" in received  # (without the pings the call goes to voicemail instead)
    assert "BYE sip:" in received
    assert received.count("OPTIONS sip:") >= NAT_IDLE_S * 2 // KEEPALIVE_S - 1


def test_a_phone_behind_nat_on_tcp_is_called_over_the_connection_it_registered_on(
    lab: Lab,
) -> None:
    """Through a NAT nobody can open a connection to the phone: the call must come back over
    the TCP connection its REGISTER came in on."""
    who = parties()
    phone = start_phone(lab, who, stay_ms=15000, tcp=True)
    wait_for(lambda: Registration.objects.filter(device=who.phone_device).exists(), timeout=10)
    received = received_address(registered_contact(lab, who))
    assert received.startswith(f"sip:{netlab.ROUTER_WAN}:"), received
    assert received.endswith(";transport=tcp"), received

    caller = start_caller(lab, who, role="far", address=netlab.FAR_ADDRESS, talk_ms=500)
    assert caller.wait(timeout=40) == 0, lab.messages("caller-far") + lab.engine.log()[-3000:]
    phone.terminate()
    messages = lab.messages("phone")
    assert "TCP message received" in messages
    assert "INVITE sip:" in messages
    assert "BYE sip:" in messages
