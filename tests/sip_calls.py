"""Real SIP peers for call tests: sipp devices that answer, ring or reject, and a caller."""

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pbx.engine.process import EngineProcess, free_port
from tests.sip import REGISTER, SIPP, SippResult, run_sipp

# --- Calls -----------------------------------------------------------------------------

_UAS_HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="device">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:device@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

  ]]></send>
"""

_UAS_ANSWER = """
  <pause milliseconds="{answer_ms}"/>
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
</scenario>
"""

_UAS_RING_UNTIL_CANCEL = """
  <recv request="CANCEL"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <send><![CDATA[

      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [last_cseq_number] INVITE
      Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
</scenario>
"""

_UAS_REJECT = """
  <send><![CDATA[

      SIP/2.0 {code} Rejected
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
</scenario>
"""


def device_scenario(behaviour: str, *, answer_ms: int = 500, code: int = 486) -> str:
    """A device that, once an INVITE arrives, answers, rings until CANCEL, or rejects."""
    tail = {
        "answer": _UAS_ANSWER.format(answer_ms=answer_ms),
        "ring": _UAS_RING_UNTIL_CANCEL,
        "reject": _UAS_REJECT.format(code=code),
    }[behaviour]
    return _UAS_HEAD + tail


CALLER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="caller">
  <send retrans="500"><![CDATA[

      INVITE sip:{called}@{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{called}@{domain}>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{username}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send><![CDATA[

      ACK sip:{called}@{domain} SIP/2.0
      [last_Via:]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[

      INVITE sip:{called}@{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{called}@{domain}>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:{username}@[local_ip]:[local_port];transport=[transport]>
      [authentication username={username} password={secret}]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  {final}
</scenario>
"""

_CALLER_ANSWERED = """
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
  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
"""

_CALLER_REFUSED = """
  <recv response="{code}"/>
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


def caller_scenario(
    *, username: str, secret: str, domain: str, called: str, expect: int = 200
) -> str:
    final = _CALLER_ANSWERED if expect == 200 else _CALLER_REFUSED.replace("{code}", str(expect))
    final = (
        final.replace("{username}", username)
        .replace("{domain}", domain)
        .replace("{called}", called)
    )
    return CALLER.format(
        username=username, secret=secret, domain=domain, called=called, final=final
    )


_MESSAGE = re.compile(
    r"-{10,} (?P<at>\d{4}-\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+)\s*\n"
    r"\S+ message received \[\d+\] bytes :\s*\n\s*\n(?P<first>[^\r\n]+)"
)


@dataclass
class Device:
    """A sipp device listening for calls (UAS), with its own message log."""

    name: str
    port: int
    process: subprocess.Popen[str]
    log: Path

    def wait(self, timeout: float = 40.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return -1

    def received(self) -> list[tuple[datetime, str]]:
        """(when, first line) of every message that reached the device."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [
            (datetime.strptime(" ".join(m["at"].split()), "%Y-%m-%d %H:%M:%S.%f"), m["first"])  # noqa: DTZ007 - sipp logs local time; only differences are used
            for m in _MESSAGE.finditer(text)
        ]

    def first(self, method: str) -> datetime | None:
        return next((at for at, line in self.received() if line.startswith(method + " ")), None)


def start_device(
    engine: EngineProcess,
    workdir: Path,
    name: str,
    scenario: str,
    *,
    timeout_s: int = 40,
    source: str = "127.0.0.1",
) -> Device:
    port = free_port(source)
    path = workdir / f"{name}.xml"
    path.write_text(scenario)
    log = workdir / f"{name}-messages.log"
    process = subprocess.Popen(  # noqa: S603 - a test runs its own scenario
        [
            SIPP,
            "-sf",
            str(path),
            "-i",
            source,
            "-p",
            str(port),
            "-m",
            "1",
            "-timeout",
            f"{timeout_s}s",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
            str(log),
            "-nostdin",
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return Device(name, port, process, log)


def register_contact(
    engine: EngineProcess,
    workdir: Path,
    *,
    username: str,
    domain: str,
    secret: str,
    contact_port: int,
    contact_params: str = "",
    source: str = "127.0.0.1",
) -> SippResult:
    """REGISTER a device whose calls go to a sipp listening on `contact_port` (`contact_params`
    are added to the contact URI, e.g. RFC 8599 push parameters)."""
    scenario = REGISTER.format(
        username=username,
        domain=domain,
        secret=secret,
        expect=200,
        expires=600,
        user_agent="sipp-device",
    ).replace(
        "@[local_ip]:[local_port];transport=[transport]>",
        f"@{source}:{contact_port}{contact_params}>",
    )
    return run_sipp(engine, scenario, workdir, source=source)


def voicemail_caller_scenario(
    *,
    username: str,
    secret: str,
    domain: str,
    called: str,
    audio: Path,
    wait_ms: int,
    talk_ms: int,
) -> str:
    """A caller who reaches voicemail: after `wait_ms` (the greeting) it streams `audio`
    (raw G.711 mu-law, 8 kHz) as RTP, stays on the line `talk_ms`, then hangs up."""
    stream = (
        f'  <pause milliseconds="{wait_ms}"/>\n'
        f'  <nop><action><exec rtp_stream="{audio},1,0"/></action></nop>\n'
        f'  <pause milliseconds="{talk_ms}"/>\n'
    )
    final = _CALLER_ANSWERED.replace('  <pause milliseconds="300"/>\n', stream)
    final = (
        final.replace("{username}", username)
        .replace("{domain}", domain)
        .replace("{called}", called)
    )
    return CALLER.format(
        username=username, secret=secret, domain=domain, called=called, final=final
    )


def answering(method: str, name: str) -> str:
    """A peer that answers one out-of-dialog `method` request with 200 OK."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{name}">
  <recv request="{method}"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
</scenario>
"""


NOTIFY_RECEIVER = answering("NOTIFY", "a phone waiting for its message lamp")
