"""The portal's browser softphone in Debian's Chromium (fake microphone), registered over SIP
WebSocket to a real engine, called by sipp while the person's sipp desk phone rings with it.

No media relay here: the browser's SDP has ICE and DTLS, which a plain sipp peer cannot speak,
so the sipp caller offers a WebRTC-shaped SDP (ICE credentials, a fingerprint, rtcp-mux) that
Chromium accepts, and no scenario depends on media flowing. DTMF therefore goes as SIP INFO."""

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devices.models import Device, Registration
from pbx.engine.process import EngineProcess, free_port, postgres_url, start_engine
from tests import sip_calls as sip
from tests.engine.office import Office, wait_for
from tests.factories import PASSWORD
from tests.portal.conftest import CHROMIUM, CHROMIUM_ARGS, Browser, launch_chromium, log_in, serve
from tests.sip import SippResult, run_sipp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

# An offer Chromium takes without a media relay: nothing answers its ICE checks, which only
# matters once audio is wanted.
FINGERPRINT = ":".join(["4A", "AD", "B9", "B1", "3F", "82", "18", "3B"] * 4)
WEBRTC_SDP = f"""      m=audio [media_port] UDP/TLS/RTP/SAVPF 0
      a=mid:0
      a=rtpmap:0 PCMU/8000
      a=sendrecv
      a=rtcp-mux
      a=ice-ufrag:sippcall
      a=ice-pwd:sippcallerpasswordforice
      a=fingerprint:sha-256 {FINGERPRINT}
      a=setup:actpass
"""
PLAIN_SDP = """      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
"""

# The caller after the browser answered: ACK, one DTMF digit as INFO, then the browser's BYE.
_CALLER_HUNG_UP_ON = """
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
  <recv request="INFO"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
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
def site(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, engine_port: int
) -> Iterator[str]:
    """The product, pointing its softphone page at this module's engine."""
    with serve(tmp_path_factory, {"PBX_SIP_WEBSOCKET_URL": f"ws://127.0.0.1:{engine_port}"}) as url:
        yield url


def _start(site: str, port: int, log_dir: Path) -> EngineProcess:
    return start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=site,
        token=settings.PBX_ENGINE_TOKEN,
        port=port,
        workers=2,
        log_path=log_dir / f"kamailio-{time.monotonic_ns()}.log",
    )


@pytest.fixture(scope="module")
def engine(
    site: str, engine_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineProcess]:
    process = _start(site, engine_port, tmp_path_factory.mktemp("kamailio"))
    yield process
    process.stop()


def restart(engine: EngineProcess, site: str, log_dir: Path) -> None:
    """Start the module's engine again on its port (the same object, for the fixtures)."""
    fresh = _start(site, engine.port, log_dir)
    engine.process, engine.log_path = fresh.process, fresh.log_path


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Chromium with a fake microphone it may use without asking."""
    yield from launch_chromium(CHROMIUM_ARGS + MEDIA_ARGS)


def caller_scenario(office: Office, final: str | None = None) -> str:
    scenario = office.caller_scenario()
    if final is not None:
        default = sip._CALLER_ANSWERED
        for name, value in (("{username}", office.caller_username), ("{domain}", office.domain)):
            default, final = default.replace(name, value), final.replace(name, value)
        scenario = scenario.replace(default, final)
    assert scenario.count(PLAIN_SDP) == 2
    return scenario.replace(PLAIN_SDP, WEBRTC_SDP)


class Caller:
    """The sipp caller dialling 201, in a thread (the test drives the browser meanwhile)."""

    def __init__(self, engine: EngineProcess, scenario: str, workdir: Path) -> None:
        self.result: SippResult | None = None
        self.thread = threading.Thread(
            target=self._run, args=(engine, scenario, workdir), daemon=True
        )
        self.thread.start()

    def _run(self, engine: EngineProcess, scenario: str, workdir: Path) -> None:
        self.result = run_sipp(engine, scenario, workdir, timeout=40, wait_ms=30000)

    def wait(self) -> SippResult:
        self.thread.join(timeout=50)
        assert self.result is not None, "the caller never finished"
        return self.result


def open_softphone(browser: Browser, site: str, office: Office) -> Device:
    """Sign in as the called person, open the Softphone page and wait until it registered."""
    log_in(browser, site, office.callee.email, PASSWORD)
    page = browser.page
    page.get_by_role("link", name="Softphone").click()  # type: ignore[attr-defined]
    page.wait_for_selector("#softphone[data-state='registered']")  # type: ignore[attr-defined]
    return Device.objects.get(user=office.callee, kind=Device.Kind.WEB_SOFTPHONE)


def message_to(peer: sip.Device, method: str) -> str:
    """The full text of the first `method` request that reached the sipp peer."""
    text = peer.log.read_text(errors="replace")
    found = re.search(rf"\n{method} sip:[^\n]*\n(?:[^\n]+\n)+", text)
    return found.group(0) if found else ""


def test_the_browser_registers_rings_with_the_desk_phone_answers_and_hangs_up(
    engine: EngineProcess, site: str, browser: Browser, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "ring")
    phone = open_softphone(browser, site, office)
    page = browser.page

    registration = wait_for(lambda: Registration.objects.filter(device=phone).first())
    assert registration.transport == "ws"  # type: ignore[attr-defined]
    assert ".invalid" in registration.contact  # type: ignore[attr-defined]
    browser.shot("softphone-ready")

    caller = Caller(engine, caller_scenario(office, _CALLER_HUNG_UP_ON), sip_dir)
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
    page.get_by_role("button", name="Send 5").click()  # type: ignore[attr-defined]
    assert page.locator("#dtmf-sent").inner_text() == "5"  # type: ignore[attr-defined]
    browser.shot("softphone-in-call")

    page.get_by_role("button", name="Hang up").click()  # type: ignore[attr-defined]
    result = caller.wait()
    assert result.ok, result.output
    assert "INFO sip:" in result.output
    assert "Signal=5" in result.output
    page.wait_for_selector("#softphone[data-state='registered']")  # type: ignore[attr-defined]
    assert page.locator("#phone-alert").inner_text() == "Call ended."  # type: ignore[attr-defined]


def test_a_call_answered_on_the_desk_phone_shows_answered_elsewhere(
    engine: EngineProcess, site: str, browser: Browser, sip_dir: Path
) -> None:
    office = Office(engine, sip_dir)
    desk = office.device(Device.Kind.DESK_PHONE, "desk", "answer", answer_ms=1500)
    open_softphone(browser, site, office)
    page = browser.page

    caller = Caller(engine, caller_scenario(office), sip_dir)
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
    answer = sip.device_scenario("answer", answer_ms=300).replace(
        PLAIN_SDP, WEBRTC_SDP.replace("a=setup:actpass", "a=setup:passive")
    )
    dana = office.device(Device.Kind.DESK_PHONE, "dana", "answer", owner=colleague, scenario=answer)
    open_softphone(browser, site, office)
    page = browser.page

    page.get_by_label("Call an extension").fill("203")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Call", exact=True).click()  # type: ignore[attr-defined]
    page.wait_for_selector("#softphone[data-state='in-call']")  # type: ignore[attr-defined]
    assert page.locator("#call-peer").inner_text() == "203"  # type: ignore[attr-defined]
    page.get_by_role("button", name="Hang up").click()  # type: ignore[attr-defined]

    assert dana.wait() == 0, dana.received()
    invite = message_to(dana, "INVITE")
    assert "UDP/TLS/RTP/SAVPF" in invite or "a=fingerprint" in dana.log.read_text()
    assert dana.first("BYE") is not None
    page.wait_for_selector("#softphone[data-state='registered']")  # type: ignore[attr-defined]


def test_a_refused_registration_says_so(
    engine: EngineProcess, site: str, browser: Browser, sip_dir: Path
) -> None:
    from devices import services

    office = Office(engine, sip_dir)
    phone, _ = services.web_softphone_ensure(user=office.callee)
    services.device_update(device=phone, data={"allowed_networks": ["192.0.2.0/24"]})
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
    engine: EngineProcess, site: str, browser: Browser, sip_dir: Path
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
        restart(engine, site, sip_dir)
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

    page.get_by_label("Call an extension").fill("202")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Call", exact=True).click()  # type: ignore[attr-defined]

    page.wait_for_selector("#phone-alert[data-kind='microphone']")  # type: ignore[attr-defined]
    assert page.locator("#phone-alert").inner_text() == (  # type: ignore[attr-defined]
        "Microphone access is blocked. Allow the microphone for this site in your browser's "
        "settings to make or answer calls."
    )
    assert page.locator("#softphone").get_attribute("data-state") == "registered"  # type: ignore[attr-defined]
