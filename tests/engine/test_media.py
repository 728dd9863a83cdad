"""The media relay on every call, offer/answer shape by shape, against the real engine,
rtpengine and sipp: an INVITE's offer, early media (183), the answer (200), a re-INVITE, a late
offer (SDP in the 200, answer in the ACK); the relay's session ends with the call (BYE, the
caller's CANCEL, every device refusing). Each SDP a party receives names the relay's ports,
never the other party's."""

import re
from pathlib import Path

import pytest

from devices import services
from devices.models import Device, Registration
from pbx.engine.media_relay import MediaRelayProcess
from pbx.engine.process import EngineProcess
from routing.services import routing_document_set
from tests import sip_calls as sip
from tests.engine.office import Office, plan, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CALLER_MEDIA_PORT = 6000  # sipp's default media port, in the caller's and the devices' SDP

_REPLY_HEAD = """
  <send{retrans}><![CDATA[

      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:device@[local_ip]:[local_port];transport=[transport]>
"""


def _reply(status: str, *, sdp: str = "", retrans: bool = False) -> str:
    head = _REPLY_HEAD.format(status=status, retrans=' retrans="500"' if retrans else "")
    if not sdp:
        return head + "      Content-Length: 0\n\n  ]]></send>\n"
    return (
        head
        + "      Content-Type: application/sdp\n      Content-Length: [len]\n\n"
        + sdp
        + "\n  ]]></send>\n"
    )


def _sdp(direction: str = "sendrecv") -> str:
    return (
        "      v=0\n"
        "      o=peer 1 1 IN IP4 [local_ip]\n"
        "      s=-\n"
        "      c=IN IP4 [media_ip]\n"
        "      t=0 0\n"
        "      m=audio [media_port] RTP/AVP 0\n"
        "      a=rtpmap:0 PCMU/8000\n"
        f"      a={direction}\n"
    )


_BYE_ANSWERED = """
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

# A device with early media, then an answer, then the caller's re-INVITE (hold), then BYE.
DEVICE_EARLY_MEDIA_AND_HOLD = (
    '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="early media, hold">\n'
    '  <recv request="INVITE" crlf="true"/>\n'
    + _reply("183 Session Progress", sdp=_sdp())
    + '  <pause milliseconds="300"/>\n'
    + _reply("200 OK", sdp=_sdp(), retrans=True)
    + '  <recv request="ACK"/>\n  <recv request="INVITE"/>\n'
    + _reply("200 OK", sdp=_sdp("recvonly"), retrans=True)
    + '  <recv request="ACK"/>\n'
    + _BYE_ANSWERED
    + "</scenario>\n"
)

# A device that is sent no offer: its 200 offers, the caller's ACK answers.
DEVICE_LATE_OFFER = (
    '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="late offer">\n'
    '  <recv request="INVITE" crlf="true"/>\n'
    + _reply("180 Ringing")
    + _reply("200 OK", sdp=_sdp(), retrans=True)
    + '  <recv request="ACK"/>\n'
    + _BYE_ANSWERED
    + "</scenario>\n"
)

_IN_DIALOG = """
  <send{retrans}><![CDATA[

      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{{username}}@{{domain}}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:{{username}}@[local_ip]:[local_port];transport=[transport]>
      [routes]
      Max-Forwards: 70
{body}
  ]]></send>
"""


def _in_dialog(method: str, cseq: int, *, sdp: str = "") -> str:
    cseq_method = "ACK" if method == "ACK" else method
    body = (
        "      Content-Type: application/sdp\n      Content-Length: [len]\n\n" + sdp
        if sdp
        else "      Content-Length: 0\n"
    )
    return _IN_DIALOG.format(
        method=cseq_method,
        cseq=cseq,
        body=body,
        retrans="" if method == "ACK" else ' retrans="500"',
    )


# The caller's side after its authenticated INVITE (CSeq 2): answered, then holds the call
# with a re-INVITE (CSeq 3), then hangs up (CSeq 4).
CALLER_HOLDS = (
    '  <recv response="200" rrs="true"/>\n'
    + _in_dialog("ACK", 2)
    + '  <pause milliseconds="300"/>\n'
    + _in_dialog("INVITE", 3, sdp=_sdp("sendonly"))
    + '  <recv response="100" optional="true"/>\n  <recv response="200"/>\n'
    + _in_dialog("ACK", 3)
    + '  <pause milliseconds="200"/>\n'
    + _in_dialog("BYE", 4)
    + '  <recv response="200"/>\n'
)

# After the device's 200 (an offer), the caller's ACK carries the answer.
CALLER_ANSWERS_IN_ACK = (
    '  <recv response="200" rrs="true"/>\n'
    + _in_dialog("ACK", 2, sdp=_sdp())
    + '  <pause milliseconds="300"/>\n'
    + _in_dialog("BYE", 3)
    + '  <recv response="200"/>\n'
)

# The caller gives up while the device rings.
CALLER_HANGS_UP_EARLY = """
  <recv response="180"/>
  <pause milliseconds="500"/>
  <send><![CDATA[

      CANCEL sip:{called}@{domain} SIP/2.0
      [last_Via:]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{called}@{domain}>
      Call-ID: [call_id]
      CSeq: 2 CANCEL
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
  <recv response="487"/>
  <send><![CDATA[

      ACK sip:{called}@{domain} SIP/2.0
      [last_Via:]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
"""


def caller(office: Office, final: str, *, offer: bool = True) -> str:
    final = (
        final.replace("{username}", office.caller_username)
        .replace("{domain}", office.domain)
        .replace("{called}", "201")
    )
    scenario = sip.CALLER.format(
        username=office.caller_username,
        secret=office.caller_secret,
        domain=office.domain,
        called="201",
        final="<!-- final -->",
    )
    if not offer:  # no SDP in the INVITEs: a late offer
        scenario = re.sub(
            r"Content-Type: application/sdp\n\s*Content-Length: \[len\]\n\n(\s*[a-z]=.*\n)+",
            "Content-Length: 0\n\n",
            scenario,
        )
    if "CANCEL" in final:  # it waits for the 180 itself
        scenario = scenario.replace('<recv response="180" optional="true"/>', "")
    return scenario.replace("<!-- final -->", final)


def one_device(office: Office, scenario: str) -> sip.Device:
    issued = services.device_create(user=office.callee, kind=Device.Kind.DESK_PHONE, label="desk")
    peer = sip.start_device(office.engine, office.workdir, f"desk-{issued.device.pk}", scenario)
    assert sip.register_contact(
        office.engine,
        office.workdir,
        username=issued.device.sip_username,
        domain=office.domain,
        secret=issued.secret,
        contact_port=peer.port,
    ).ok
    wait_for(lambda: Registration.objects.filter(device=issued.device).exists())
    routing_document_set(
        user=office.callee, document=plan((10, "add", [issued.device.pk]), final={"action": "busy"})
    )
    return peer


def received_sdps(log_text: str) -> list[tuple[str, int]]:
    """(first line, audio port) of every message with SDP a sipp peer received."""
    found = []
    for block in log_text.split("-----------------------------------------------"):
        if "message received" not in block:
            continue
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        first = lines[2] if len(lines) > 2 else ""  # after the time and "UDP message received"
        for line in lines:
            if line.startswith("m=audio "):
                found.append((first, int(line.split()[1])))
    return found


def call_id(log_text: str) -> str:
    return re.search(r"Call-ID: (\S+)", log_text).group(1)  # type: ignore[union-attr]


def relayed(port: int, relay: MediaRelayProcess) -> bool:
    return relay.settings.port_min <= port <= relay.settings.port_max


def run_caller(office: Office, scenario: str) -> sip.SippResult:
    return sip.run_sipp(office.engine, scenario, office.workdir, timeout=40, wait_ms=20000)


def caller_log(office: Office) -> str:
    logs = sorted(
        Path(office.workdir).glob("scenario-*-messages.log"), key=lambda p: p.stat().st_mtime
    )
    return logs[-1].read_text(errors="replace")


def test_early_media_answer_and_a_reinvite_all_go_through_the_relay(
    engine: EngineProcess, media_relay: MediaRelayProcess, tmp_path: Path
) -> None:
    office = Office(engine, tmp_path)
    device = one_device(office, DEVICE_EARLY_MEDIA_AND_HOLD)

    result = run_caller(office, caller(office, CALLER_HOLDS))
    assert result.ok, result.output + engine.log()[-3000:]
    assert device.wait() == 0

    at_device = received_sdps(device.log.read_text())
    at_caller = received_sdps(caller_log(office))
    # the device got the INVITE's offer and the re-INVITE's, both naming the relay
    assert [first.split()[0] for first, _ in at_device] == ["INVITE", "INVITE"], at_device
    assert all(relayed(port, media_relay) for _, port in at_device), at_device
    # the caller got the 183's, the 200's and the re-INVITE's 200's answers, from the relay
    assert [first for first, _ in at_caller] == [
        "SIP/2.0 183 Session Progress",
        "SIP/2.0 200 OK",
        "SIP/2.0 200 OK",
    ], at_caller
    assert all(relayed(port, media_relay) for _, port in at_caller), at_caller
    # the hold's direction reached the device; the relay's session ended with the BYE
    assert "a=sendonly" in device.log.read_text()
    assert call_id(caller_log(office)) not in media_relay.control.calls()


def test_a_late_offer_in_the_answer_is_relayed_and_the_ack_carries_the_relayed_answer(
    engine: EngineProcess, media_relay: MediaRelayProcess, tmp_path: Path
) -> None:
    office = Office(engine, tmp_path)
    device = one_device(office, DEVICE_LATE_OFFER)

    result = run_caller(office, caller(office, CALLER_ANSWERS_IN_ACK, offer=False))
    assert result.ok, result.output + engine.log()[-3000:]
    assert device.wait() == 0

    at_device = received_sdps(device.log.read_text())
    at_caller = received_sdps(caller_log(office))
    assert [first.split()[0] for first, _ in at_device] == ["ACK"], at_device  # no offer sent
    assert [first for first, _ in at_caller] == ["SIP/2.0 200 OK"], at_caller
    assert all(relayed(port, media_relay) for _, port in at_device + at_caller)
    assert call_id(caller_log(office)) not in media_relay.control.calls()


def test_the_relay_forgets_a_call_the_caller_cancels(
    engine: EngineProcess, media_relay: MediaRelayProcess, tmp_path: Path
) -> None:
    office = Office(engine, tmp_path)
    device = one_device(office, sip.device_scenario("ring"))

    result = run_caller(office, caller(office, CALLER_HANGS_UP_EARLY))
    assert result.ok, result.output + engine.log()[-3000:]
    assert device.wait() == 0

    ((first, port),) = received_sdps(device.log.read_text())
    assert first.startswith("INVITE")
    assert relayed(port, media_relay)
    wait_for(lambda: call_id(caller_log(office)) not in media_relay.control.calls())


def test_the_relay_forgets_a_call_every_device_refuses(
    engine: EngineProcess, media_relay: MediaRelayProcess, tmp_path: Path
) -> None:
    office = Office(engine, tmp_path)
    device = one_device(office, sip.device_scenario("reject", code=603))

    result = run_caller(office, office.caller_scenario(expect=486))  # the plan's final: busy
    assert result.ok, result.output + engine.log()[-3000:]
    assert device.wait() == 0

    ((first, port),) = received_sdps(device.log.read_text())
    assert first.startswith("INVITE")
    assert relayed(port, media_relay)
    wait_for(lambda: call_id(caller_log(office)) not in media_relay.control.calls())
