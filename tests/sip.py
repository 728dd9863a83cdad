"""Real SIP peers for tests: sipp scenarios written on the fly and run against the engine."""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pbx.engine.process import EngineProcess, free_port

SIPP = shutil.which("sipp") or "/usr/bin/sipp"

REGISTER = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="REGISTER with digest authentication">
  <send retrans="500"><![CDATA[

      REGISTER sip:{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{username}@{domain}>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:{username}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Expires: {expires}
      User-Agent: {user_agent}
      Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[

      REGISTER sip:{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{username}@{domain}>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:{username}@[local_ip]:[local_port];transport=[transport]>
      [authentication username={username} password={secret}]
      Max-Forwards: 70
      Expires: {expires}
      User-Agent: {user_agent}
      Content-Length: 0

  ]]></send>
  <recv response="{expect}"/>
</scenario>
"""


@dataclass(frozen=True)
class SippResult:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_sipp(
    engine: EngineProcess,
    scenario: str,
    workdir: Path,
    *,
    local_port: int | None = None,
    timeout: float = 20.0,
    wait_ms: int = 5000,
    source: str = "127.0.0.1",
    calls: int = 1,
    rate: int = 10,
    media_port: int | None = None,
) -> SippResult:
    """Run `calls` calls of `scenario` (at `rate` per second) from the address `source`;
    `wait_ms` is the longest silence sipp accepts; `media_port`: sipp's RTP port."""
    name = f"scenario-{free_port()}"
    path = workdir / f"{name}.xml"
    path.write_text(scenario)
    log = workdir / f"{name}-messages.log"
    args = [
        SIPP,
        f"{engine.host}:{engine.port}",
        "-sf",
        str(path),
        "-i",
        source,
        "-p",
        str(local_port or free_port(source)),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-recv_timeout",
        str(wait_ms),
        "-nostdin",
        "-trace_msg",
        "-message_file",
        str(log),
    ]
    if media_port is not None:
        args += ["-mp", str(media_port)]
    completed = subprocess.run(  # noqa: S603 - a test runs its own scenario
        args, capture_output=True, text=True, timeout=timeout + 10, cwd=workdir, check=False
    )
    messages = log.read_text(errors="replace")[-6000:] if log.exists() else ""
    return SippResult(completed.returncode, completed.stderr[-2000:] + "\n" + messages)


def register(
    engine: EngineProcess,
    workdir: Path,
    *,
    username: str,
    domain: str,
    secret: str,
    expect: int = 200,
    expires: int = 600,
    user_agent: str = "sipp-desk-phone",
    local_port: int | None = None,
    source: str = "127.0.0.1",
) -> SippResult:
    scenario = REGISTER.format(
        username=username,
        domain=domain,
        secret=secret,
        expect=expect,
        expires=expires,
        user_agent=user_agent,
    )
    return run_sipp(engine, scenario, workdir, local_port=local_port, source=source)
