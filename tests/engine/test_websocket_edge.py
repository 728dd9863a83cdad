"""The `alias` Contact parameter is the engine's own note of a browser's (WebSocket) connection,
which handle_ruri_alias() follows inside a dialog: one a sender writes itself is refused, or a
party could have the other's in-dialog requests sent anywhere."""

from pathlib import Path

import pytest

from pbx.engine.process import EngineProcess
from tests.engine.office import Office
from tests.sip import run_sipp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

FORGED = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="a Contact with its own alias">
  <send retrans="500"><![CDATA[

      INVITE sip:201@{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:201@{domain}>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      {contact}: <sip:{username}@[local_ip]:[local_port];alias=192.0.2.10~5060~1>
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="400"/>
</scenario>
"""


@pytest.mark.parametrize("header", ["Contact", "m"])
def test_a_request_bringing_its_own_alias_is_refused(
    engine: EngineProcess, sip_dir: Path, header: str
) -> None:
    office = Office(engine, sip_dir)
    scenario = FORGED.format(domain=office.domain, username=office.caller_username, contact=header)

    result = run_sipp(engine, scenario, sip_dir)

    assert result.ok, result.output
    assert "400 Bad Contact" in result.output
    assert "its Contact carries an alias" in engine.log()
