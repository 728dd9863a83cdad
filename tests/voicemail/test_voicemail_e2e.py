"""Voicemail end to end: sipp caller -> Kamailio -> nobody answers -> the voicemail agent
answers -> sipp streams a real 1 kHz G.711 tone -> hangs up -> a message whose audio really
holds that tone; the owner's phone gets an MWI NOTIFY. Real Django, PostgreSQL, Redis, Celery."""

import io
import re
import wave
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from devices import services
from devices.models import Device, Registration
from pbx.celery import app as celery_app
from pbx.engine.process import EngineProcess
from routing.models import Call
from routing.services import routing_document_set
from tests import sip_calls as sip
from tests.engine.test_calls import wait_for
from tests.factories import ExtensionFactory, TenantFactory, UserFactory
from tests.voicemail.conftest import Agent
from voicemail import selectors as voicemail_selectors
from voicemail import services as voicemail_services
from voicemail.domain import audio, g711
from voicemail.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Office:
    def __init__(self, engine: EngineProcess, workdir: Path) -> None:
        self.engine, self.workdir = engine, workdir
        tenant = TenantFactory()
        self.domain = tenant.sip_domain
        self.callee = UserFactory(tenant=tenant)
        self.extension = ExtensionFactory(owner=self.callee, number="201")
        caller = UserFactory(tenant=tenant)
        ExtensionFactory(owner=caller, number="202")
        issued = services.device_create(user=caller, kind=Device.Kind.SOFTPHONE, label="Caller")
        self.caller_username, self.caller_secret = issued.device.sip_username, issued.secret

    def phone(self, label: str, scenario: str) -> tuple[Device, sip.Device]:
        issued = services.device_create(user=self.callee, kind=Device.Kind.DESK_PHONE, label=label)
        peer = sip.start_device(self.engine, self.workdir, label, scenario)
        assert sip.register_contact(
            self.engine,
            self.workdir,
            username=issued.device.sip_username,
            domain=self.domain,
            secret=issued.secret,
            contact_port=peer.port,
        ).ok
        wait_for(lambda: Registration.objects.filter(device=issued.device).exists())
        return issued.device, peer

    def leave_message(self, tone_file: Path, *, wait_ms: int, talk_ms: int) -> sip.SippResult:
        return sip.run_sipp(
            self.engine,
            sip.voicemail_caller_scenario(
                username=self.caller_username,
                secret=self.caller_secret,
                domain=self.domain,
                called="201",
                audio=tone_file,
                wait_ms=wait_ms,
                talk_ms=talk_ms,
            ),
            self.workdir,
            timeout=60,
            wait_ms=30000,
        )


def short_greeting() -> bytes:
    return audio.wav_bytes(audio.tone(300, 0.5))


def test_unanswered_call_leaves_a_message_with_the_callers_audio_and_lights_the_lamp(
    vm_engine: EngineProcess, agent: Agent, sip_dir: Path, settings
) -> None:
    settings.PBX_ENGINE_RPC_URL = vm_engine.rpc_url
    office = Office(vm_engine, sip_dir)
    desk, desk_peer = office.phone("desk", sip.device_scenario("ring"))
    _, lamp = office.phone("lamp", sip.NOTIFY_RECEIVER)
    routing_document_set(
        user=office.callee,
        document={
            "plans": [
                {
                    "name": "p",
                    "stages": [
                        {
                            "seconds": 5,
                            "mode": "add",
                            "targets": [{"type": "device", "device_id": desk.pk}],
                        }
                    ],
                    "final": {"action": "voicemail"},
                }
            ],
            "default_plan": "p",
        },
    )
    mailbox = voicemail_selectors.mailbox_for_extension(extension=office.extension)
    voicemail_services.greeting_set(mailbox=mailbox, kind="unavailable", data=short_greeting())
    tone_file = sip_dir / "tone-1khz.ulaw"
    tone_file.write_bytes(g711.encode(audio.tone(1000, 3.0), g711.PCMU))

    with start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        queues=["engine", "push", "default"],
        shutdown_timeout=10,
    ):
        result = office.leave_message(tone_file, wait_ms=1200, talk_ms=3300)
        assert result.ok, result.output + agent.log.read_text()[-3000:]
        message = wait_for(lambda: Message.objects.filter(mailbox=mailbox).first())
        assert lamp.wait(timeout=15) == 0, agent.log.read_text()[-2000:]

    assert desk_peer.wait() == 0  # it rang for the stage, then was cancelled
    with message.audio.open("rb") as stored, wave.open(io.BytesIO(stored.read())) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        pcm = wav.readframes(wav.getnframes())
    assert 2800 <= message.duration_ms <= 3600, message.duration_ms  # the 3 s the caller spoke
    assert audio.tone_power(pcm, 1000) > 0.8  # the caller's tone is what was recorded
    assert audio.tone_power(pcm, 300) < 0.01  # not the greeting
    assert message.caller == "202"
    notify = lamp.log.read_text()
    assert "Event: message-summary" in notify
    assert re.search(r"Messages-Waiting: yes", notify)
    assert "Voice-Message: 1/0" in notify
    call = wait_for(lambda: Call.objects.filter(call_id=message.call_id).first())
    assert call.outcome == Call.Outcome.VOICEMAIL


def test_the_same_deposit_twice_makes_one_message(
    agent: Agent, live_server, settings, tenant
) -> None:
    import httpx

    extension = ExtensionFactory(owner=UserFactory(tenant=tenant), number="301")
    wav = audio.wav_bytes(audio.tone(1000, 1.5))
    headers = {
        "X-Engine-Token": settings.PBX_ENGINE_TOKEN,
        "X-Voicemail-Domain": tenant.sip_domain,
        "X-Voicemail-Extension": "301",
        "X-Voicemail-Call-Id": "same-call%40host",
        "X-Voicemail-Caller": "%2B33612345678",
    }
    url = f"{live_server.url}/internal/voicemail/deposits"

    first = httpx.post(url, content=wav, headers=headers)
    again = httpx.post(url, content=wav, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["message_id"] == again.json()["message_id"]
    [message] = Message.objects.filter(mailbox__extension=extension)
    assert message.call_id == "same-call@host"
    assert message.caller == "+33612345678"
    assert message.duration_ms == 1500


def test_a_phone_that_registers_gets_the_lamp_right_away(
    vm_engine: EngineProcess, agent: Agent, sip_dir: Path, settings
) -> None:
    settings.PBX_ENGINE_RPC_URL = vm_engine.rpc_url
    office = Office(vm_engine, sip_dir)
    mailbox = voicemail_selectors.mailbox_for_extension(extension=office.extension)
    for call_id in ("a", "b"):
        pcm = audio.tone(1000, 1.0)
        voicemail_services.voicemail_deposit(
            mailbox=mailbox,
            call_id=call_id,
            wav=audio.wav_bytes(pcm),
            duration_ms=audio.duration_ms(pcm),
            caller="202",
            caller_name="",
        )

    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, queues=["engine"], shutdown_timeout=10
    ):
        _, lamp = office.phone("rebooted", sip.NOTIFY_RECEIVER)
        assert lamp.wait(timeout=15) == 0

    notify = lamp.log.read_text()
    assert "Messages-Waiting: yes" in notify
    assert "Voice-Message: 2/0" in notify


def test_a_long_message_is_deposited(agent: Agent, live_server, settings, tenant) -> None:
    """Ten minutes of audio (9.6 MB): more than Django's in-memory body limit."""
    import httpx

    extension = ExtensionFactory(owner=UserFactory(tenant=tenant), number="302")
    wav = audio.wav_bytes(bytes(2 * 8000 * 600))

    response = httpx.post(
        f"{live_server.url}/internal/voicemail/deposits",
        content=wav,
        headers={
            "X-Engine-Token": settings.PBX_ENGINE_TOKEN,
            "X-Voicemail-Domain": tenant.sip_domain,
            "X-Voicemail-Extension": "302",
            "X-Voicemail-Call-Id": "long-call",
        },
        timeout=30,
    )

    assert response.status_code == 201, response.text
    assert Message.objects.get(mailbox__extension=extension).duration_ms == 600_000
