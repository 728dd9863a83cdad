"""The portal's browser softphone in Debian's Chromium (fake microphone), registered over SIP
WebSocket to a real engine, called by sipp while the person's sipp desk phone rings with it.

Media goes through the relay (rtpengine): the browser speaks ICE + DTLS-SRTP to it, the sipp
peers plain RTP. Audio both ways is checked at both ends: WebRTC statistics in the page
(packets received) and a capture at the sipp caller's media port (the browser's RTP, relayed),
plus the relay's own counts."""

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devices.models import Device, Registration
from pbx.engine.media_relay import MediaRelayProcess, stream_counts
from pbx.engine.process import (
    EngineProcess,
    TlsListener,
    free_port,
    postgres_url,
    start_engine,
)
from tests import sip_calls as sip
from tests.engine.conftest import tls_files  # noqa: F401 - the engine's certificate (fixture)
from tests.engine.office import Office, wait_for
from tests.factories import PASSWORD
from tests.netlab import Datagram, read_pcap
from tests.portal.conftest import CHROMIUM, CHROMIUM_ARGS, Browser, launch_chromium, log_in, serve
from tests.sip import SippResult, run_sipp
from voicemail.domain import audio, g711

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--ignore-certificate-errors",  # the engine's self-signed certificate (wss://)
]
CALLER_TONE_HZ = 700
TCPDUMP = shutil.which("tcpdump") or "/usr/bin/tcpdump"

PLAIN_SDP = """      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
"""
# The caller also offers RFC 4733 events, so the browser sends its DTMF in the media.
DTMF_SDP = """      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
"""

# The caller after the browser answered: ACK, its tone as RTP, then the browser's BYE.
_CALLER_TALKS_UNTIL_HUNG_UP_ON = """
  <recv response="200" rrs="true"/>
  <send><![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      [routes]
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <nop><action><exec rtp_stream="{tone},1,0"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
"""


@pytest.fixture(scope="module")
def engine_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def engine_tls(tls_files: tuple[Path, Path]) -> TlsListener:  # noqa: F811
    certificate, private_key = tls_files
    return TlsListener(certificate=certificate, private_key=private_key, port=free_port())


@pytest.fixture(scope="module")
def wss_site(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, engine_tls: TlsListener
) -> Iterator[str]:
    """The product, pointing its softphone page at the engine's TLS listener (wss://)."""
    with serve(
        tmp_path_factory, {"PBX_SIP_WEBSOCKET_URL": f"wss://127.0.0.1:{engine_tls.port}"}
    ) as url:
        yield url


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, engine_port: int
) -> Iterator[str]:
    """The product, pointing its softphone page at this module's engine."""
    with serve(tmp_path_factory, {"PBX_SIP_WEBSOCKET_URL": f"ws://127.0.0.1:{engine_port}"}) as url:
        yield url


def _start(
    site: str, port: int, relay: MediaRelayProcess, tls: TlsListener, log_dir: Path
) -> EngineProcess:
    return start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=site,
        token=settings.PBX_ENGINE_TOKEN,
        port=port,
        workers=2,
        log_path=log_dir / f"kamailio-{time.monotonic_ns()}.log",
        media_relay=relay.control.socket_spec,
        tls=tls,
    )


@pytest.fixture(scope="module")
def engine(
    site: str,
    engine_port: int,
    media_relay: MediaRelayProcess,
    engine_tls: TlsListener,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EngineProcess]:
    log_dir = tmp_path_factory.mktemp("kamailio")
    process = _start(site, engine_port, media_relay, engine_tls, log_dir)
    yield process
    process.stop()


def restart(
    engine: EngineProcess, site: str, relay: MediaRelayProcess, tls: TlsListener, log_dir: Path
) -> None:
    """Start the module's engine again on its ports (the same object, for the fixtures)."""
    fresh = _start(site, engine.port, relay, tls, log_dir)
    engine.process, engine.log_path = fresh.process, fresh.log_path


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Chromium with a fake microphone it may use without asking."""
    yield from launch_chromium(CHROMIUM_ARGS + MEDIA_ARGS)


def talking_caller(office: Office, workdir: Path) -> str:
    """The caller (202) dialling 201: it offers PCMU and RFC 4733 events, plays its tone once
    answered and waits for the other side to hang up."""
    tone = workdir / "caller-tone.ulaw"
    tone.write_bytes(g711.encode(audio.tone(CALLER_TONE_HZ, 6.0), g711.PCMU))
    scenario = office.caller_scenario()
    default, final = sip._CALLER_ANSWERED, _CALLER_TALKS_UNTIL_HUNG_UP_ON
    for name, value in (
        ("{username}", office.caller_username),
        ("{domain}", office.domain),
        ("{tone}", str(tone)),
    ):
        default, final = default.replace(name, value), final.replace(name, value)
    assert scenario.count(default) == 1
    assert scenario.count(PLAIN_SDP) == 2
    return scenario.replace(default, final).replace(PLAIN_SDP, DTMF_SDP)


class Caller:
    """The sipp caller dialling 201, in a thread (the test drives the browser meanwhile), with
    what reaches its media port captured (`heard`)."""

    def __init__(self, engine: EngineProcess, scenario: str, workdir: Path) -> None:
        self.result: SippResult | None = None
        self.media_port = free_port()
        self.capture_path = workdir / f"caller-{self.media_port}.pcap"
        self.capture = subprocess.Popen(  # noqa: S603 - the test's own capture
            [
                TCPDUMP,
                "-i",
                "lo",
                "-n",
                "-U",
                "-w",
                str(self.capture_path),
                f"udp and dst port {self.media_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.capture_path.exists, timeout=5)
        self.thread = threading.Thread(
            target=self._run, args=(engine, scenario, workdir), daemon=True
        )
        self.thread.start()

    def _run(self, engine: EngineProcess, scenario: str, workdir: Path) -> None:
        self.result = run_sipp(
            engine, scenario, workdir, timeout=40, wait_ms=30000, media_port=self.media_port
        )

    def wait(self) -> SippResult:
        self.thread.join(timeout=50)
        self.capture.terminate()
        self.capture.wait(timeout=5)
        assert self.result is not None, "the caller never finished"
        return self.result

    def heard(self) -> list[Datagram]:
        """RTP that reached the caller's media port (after `wait`)."""
        return [d for d in read_pcap(self.capture_path) if len(d.payload) >= 12]


def test_over_wss_the_browser_registers_answers_and_hears_the_caller(
    engine: EngineProcess, wss_site: str, browser: Browser, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    phone = open_softphone(browser, wss_site, office)
    page = browser.page

    registration = wait_for(lambda: Registration.objects.filter(device=phone).first())
    assert registration.transport == "wss"  # type: ignore[attr-defined]
    caller = Caller(engine, talking_caller(office, sip_dir), sip_dir)
    page.wait_for_selector("#incoming:not([hidden])")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Answer").click()  # type: ignore[attr-defined]
    heard = page.locator("#call-audio")  # type: ignore[attr-defined]
    wait_for(lambda: int(heard.get_attribute("data-packets-received") or 0) >= 50, timeout=15)
    # and has sent enough of its own for the caller's count below (its first packets may lag)
    wait_for(lambda: int(heard.get_attribute("data-packets-sent") or 0) >= 75, timeout=15)
    page.get_by_role("button", name="Hang up").click()  # type: ignore[attr-defined]

    assert caller.wait().ok
    voice = [d for d in caller.heard() if d.payload[1] & 0x7F == 0]
    assert len(voice) >= 50, len(voice)


def open_softphone(browser: Browser, site: str, office: Office) -> Device:
    """Sign in as the called person, open the Softphone page and wait until it registered."""
    log_in(browser, site, office.callee.email, PASSWORD)
    page = browser.page
    page.get_by_role("link", name="Softphone").click()  # type: ignore[attr-defined]
    page.wait_for_selector("#softphone[data-state='registered']")  # type: ignore[attr-defined]
    phone = Device.objects.get(user=office.callee, kind=Device.Kind.WEB_SOFTPHONE)
    # Django rings registered devices only: wait until the engine's report has reached it
    wait_for(lambda: Registration.objects.filter(device=phone).exists())
    return phone


def message_to(peer: sip.Device, method: str, *, body: bool = False) -> str:
    """The first `method` request that reached the sipp peer: its headers (and its body)."""
    text = peer.log.read_text(errors="replace")
    pattern = r"(?:.*\n)*?(?=-{10,}|\Z)" if body else r"(?:[^\n]+\n)+"
    found = re.search(rf"\n{method} sip:[^\n]*\n" + pattern, text)
    return found.group(0) if found else ""


def call_id_of(peer: sip.Device) -> str:
    found = re.search(r"\nCall-ID:\s*(\S+)", message_to(peer, "INVITE"), re.IGNORECASE)
    assert found, peer.received()
    return found.group(1)


def test_the_browser_registers_rings_with_the_desk_phone_answers_talks_and_hangs_up(
    engine: EngineProcess,
    site: str,
    browser: Browser,
    sip_dir: Path,
    media_relay: MediaRelayProcess,
) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    phone = open_softphone(browser, site, office)
    page = browser.page

    registration = wait_for(lambda: Registration.objects.filter(device=phone).first())
    assert registration.transport == "ws"  # type: ignore[attr-defined]
    assert ".invalid" in registration.contact  # type: ignore[attr-defined]
    browser.shot("softphone-ready")

    caller = Caller(engine, talking_caller(office, sip_dir), sip_dir)
    page.wait_for_selector("#incoming:not([hidden])")  # type: ignore[attr-defined]
    wait_for(lambda: desk.first("INVITE"))
    caller_name = page.locator("#incoming-caller").inner_text()  # type: ignore[attr-defined]
    assert office.caller_username in caller_name
    browser.shot("softphone-ringing")

    page.get_by_role("button", name="Answer").click()  # type: ignore[attr-defined]
    page.wait_for_selector("#softphone[data-state='in-call']")  # type: ignore[attr-defined]
    assert desk.wait() == 0, desk.received()
    cancel = message_to(desk, "CANCEL")
    assert 'Reason: SIP;cause=200;text="Call completed elsewhere"' in cancel, cancel
    # audio both ways: the browser receives the caller's tone through the relay (WebRTC stats)
    heard = page.locator("#call-audio")  # type: ignore[attr-defined]
    wait_for(lambda: int(heard.get_attribute("data-packets-received") or 0) >= 50, timeout=15)
    # and has sent enough of its own for the caller's count below (its first packets may lag)
    wait_for(lambda: int(heard.get_attribute("data-packets-sent") or 0) >= 75, timeout=15)
    assert heard.inner_text() == "Audio: connected"
    held = media_relay.control.query(call_id_of(desk))
    mute = page.locator("#mute")  # type: ignore[attr-defined]
    mute.click()
    assert (mute.get_attribute("aria-pressed"), mute.inner_text()) == ("true", "Unmute")
    mute.click()
    assert (mute.get_attribute("aria-pressed"), mute.inner_text()) == ("false", "Mute")
    page.get_by_role("button", name="Send 5").click()  # type: ignore[attr-defined]
    assert page.locator("#dtmf-sent").inner_text() == "5"  # type: ignore[attr-defined]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]  # the event's packets
    browser.shot("softphone-in-call")

    page.get_by_role("button", name="Hang up").click()  # type: ignore[attr-defined]
    result = caller.wait()
    assert result.ok, result.output
    assert "INFO sip:" not in result.output  # DTMF went in the media
    page.wait_for_selector("#softphone[data-state='registered']")  # type: ignore[attr-defined]
    assert page.locator("#phone-alert").inner_text() == "Call ended."  # type: ignore[attr-defined]

    # ... and the caller received the browser's audio, relayed as plain RTP (PCMU), with the
    # digit as RFC 4733 events (payload type 101, event 5)
    packets = caller.heard()
    voice = [d for d in packets if d.payload[1] & 0x7F == 0]
    events = [d for d in packets if d.payload[1] & 0x7F == 101]
    assert len(voice) >= 50, len(packets)
    assert events, len(packets)
    assert {d.payload[12] for d in events} == {5}, events[:3]
    # the relay counted both parties' packets: the caller's RTP and the browser's SRTP
    counts = stream_counts(held)
    from_caller = [c for c in counts if c.address == f"127.0.0.1:{caller.media_port}"]
    from_browser = [c for c in counts if c.packets and c not in from_caller]
    assert from_caller, counts
    assert from_caller[0].packets >= 20, counts
    assert len(from_browser) == 1, counts
    assert from_browser[0].packets >= 20, counts


def test_a_call_answered_on_the_desk_phone_shows_answered_elsewhere(
    engine: EngineProcess, site: str, browser: Browser, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer", answer_ms=3000)
    open_softphone(browser, site, office)
    page = browser.page

    caller = Caller(engine, office.caller_scenario(), sip_dir)
    page.wait_for_selector("#incoming:not([hidden])")  # type: ignore[attr-defined]
    page.wait_for_selector("#phone-alert[data-kind='elsewhere']")  # type: ignore[attr-defined]

    assert page.locator("#phone-alert").inner_text() == (  # type: ignore[attr-defined]
        f"The call from {office.caller_username} was answered on another of your devices."
    )
    assert page.locator("#incoming").is_hidden()  # type: ignore[attr-defined]
    assert caller.wait().ok
    assert desk.wait() == 0, desk.received()
    browser.shot("softphone-answered-elsewhere")


def test_the_browser_calls_an_extension_and_hangs_up(
    engine: EngineProcess, site: str, browser: Browser, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    colleague = office.colleague("203", "Dana Example")
    dana = office.device(Device.Kind.DESK_PHONE, "dana", "answer", owner=colleague, answer_ms=300)
    open_softphone(browser, site, office)
    page = browser.page

    page.get_by_label("Call an extension").fill("203")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Call", exact=True).click()  # type: ignore[attr-defined]
    page.wait_for_selector("#softphone[data-state='in-call']")  # type: ignore[attr-defined]
    assert page.locator("#call-peer").inner_text() == "203"  # type: ignore[attr-defined]
    page.get_by_role("button", name="Hang up").click()  # type: ignore[attr-defined]

    assert dana.wait() == 0, dana.received()
    # the relay turned the browser's WebRTC offer into plain RTP for the desk phone
    invite = message_to(dana, "INVITE", body=True)
    assert "m=audio" in invite, invite
    assert "RTP/AVP" in invite
    assert "SAVPF" not in invite
    assert "a=fingerprint" not in invite
    assert "a=ice-ufrag" not in invite
    assert dana.first("BYE") is not None
    page.wait_for_selector("#softphone[data-state='registered']")  # type: ignore[attr-defined]


def test_a_refused_registration_says_so(
    engine: EngineProcess, site: str, browser: Browser, sip_dir: Path
) -> None:
    from devices import services

    office = Office(engine, sip_dir)
    phone, _ = services.web_softphone_ensure(user=office.callee)
    services.device_update(device=phone, data={"allowed_networks": ["198.51.100.0/24"]})
    log_in(browser, site, office.callee.email, PASSWORD)
    page = browser.page
    page.goto(f"{site}/portal/softphone/")  # type: ignore[attr-defined]

    page.wait_for_selector("#phone-alert[data-kind='registration']")  # type: ignore[attr-defined]
    assert page.locator("#phone-alert").inner_text() == (  # type: ignore[attr-defined]
        "The phone system refused this softphone's registration (403 Network Not Allowed). "
        "Reload the page; if it keeps happening, ask your administrator."
    )
    assert page.locator("#call").is_disabled()  # type: ignore[attr-defined]
    assert not Registration.objects.filter(device=phone).exists()


def test_a_dropped_socket_says_so_and_the_phone_registers_again(
    engine: EngineProcess,
    site: str,
    browser: Browser,
    sip_dir: Path,
    media_relay: MediaRelayProcess,
    engine_tls: TlsListener,
) -> None:
    office = Office(engine, sip_dir)
    open_softphone(browser, site, office)
    page = browser.page

    engine.stop()
    try:
        page.wait_for_selector("#phone-alert[data-kind='socket']")  # type: ignore[attr-defined]
        assert page.locator("#phone-alert").inner_text() == (  # type: ignore[attr-defined]
            "Connection to the phone system lost. Reconnecting…"
        )
        assert page.locator("#softphone").get_attribute("data-state") == "disconnected"  # type: ignore[attr-defined]
        browser.shot("softphone-socket-dropped")
    finally:
        restart(engine, site, media_relay, engine_tls, sip_dir)
    page.wait_for_selector("#softphone[data-state='registered']", timeout=20000)  # type: ignore[attr-defined]
    assert page.locator("#phone-alert").is_hidden()  # type: ignore[attr-defined]
    # Chromium reports each refused reconnection attempt on the console: expected here.
    browser.console_errors[:] = [
        e for e in browser.console_errors if not e.startswith("WebSocket connection to")
    ]


@pytest.fixture
def no_microphone_browser(chromium) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """A second Chromium, with a (fake) microphone but without the flag that grants it: headless,
    nobody answers the permission prompt and the request is denied."""
    launched = chromium.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, MEDIA_ARGS[1]]
    )
    context = launched.new_context()
    page = context.new_page()
    wrapped = Browser(page)
    page.on("pageerror", lambda e: wrapped.console_errors.append(str(e)))
    page.set_default_timeout(10000)
    yield wrapped
    context.close()
    launched.close()
    assert wrapped.console_errors == [], wrapped.console_errors


def test_a_denied_microphone_says_so(
    engine: EngineProcess, site: str, no_microphone_browser: Browser, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    open_softphone(no_microphone_browser, site, office)
    page = no_microphone_browser.page
    # nothing refused yet: the browser asks when the microphone is first wanted
    assert page.locator("#phone-alert").is_hidden()  # type: ignore[attr-defined]

    page.get_by_label("Call an extension").fill("202")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Call", exact=True).click()  # type: ignore[attr-defined]

    page.wait_for_selector("#phone-alert[data-kind='microphone']")  # type: ignore[attr-defined]
    assert page.locator("#phone-alert").inner_text() == (  # type: ignore[attr-defined]
        "Microphone access is blocked. Allow the microphone for this site in your browser's "
        "settings to make or answer calls."
    )
    assert page.locator("#softphone").get_attribute("data-state") == "registered"  # type: ignore[attr-defined]
    # no call was attempted without a microphone
    assert page.locator("#in-call").is_hidden()  # type: ignore[attr-defined]
