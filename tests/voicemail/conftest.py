"""A real voicemail agent process and an engine that sends unanswered calls to it."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from pbx.engine.media_relay import MediaRelayProcess
from pbx.engine.process import EngineProcess, free_port, postgres_url, start_engine

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Agent:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    spool: Path

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"


def _options_answered(port: int) -> bool:
    message = (
        f"OPTIONS sip:voicemail@127.0.0.1:{port} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKprobe\r\n"
        "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:voicemail@127.0.0.1>\r\n"
        "Call-ID: probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.3)
        probe.sendto(message, ("127.0.0.1", port))
        try:
            return probe.recv(2000).startswith(b"SIP/2.0 200")
        except OSError:
            return False


def start_agent(django_url: str, workdir: Path, *, port: int | None = None) -> Agent:
    port = port or free_port()
    spool = workdir / "spool"
    log = workdir / f"agent-{port}.log"
    env = dict(os.environ) | {
        "PBX_VOICEMAIL_LISTEN": f"127.0.0.1:{port}",
        "PBX_DJANGO_INTERNAL_URL": django_url,
        "PBX_ENGINE_TOKEN": settings.PBX_ENGINE_TOKEN,
        "PBX_VOICEMAIL_SPOOL": str(spool),
        "PBX_VOICEMAIL_MAX_SILENCE": "6",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "voicemail.agent"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voicemail agent exited: {log.read_text()[-2000:]}")
        if _options_answered(port):
            return Agent(port, process, log, spool)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"voicemail agent did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def agent(django_db_setup: None, live_server, tmp_path_factory) -> Iterator[Agent]:
    running = start_agent(live_server.url, tmp_path_factory.mktemp("agent"))
    yield running
    running.process.terminate()
    running.process.wait(timeout=10)


@pytest.fixture(scope="module")
def vm_engine(
    django_db_setup: None,
    live_server,
    agent: Agent,
    media_relay: MediaRelayProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EngineProcess]:
    process = start_engine(
        db_url=postgres_url(connection.settings_dict),
        django_url=live_server.url,
        token=settings.PBX_ENGINE_TOKEN,
        workers=2,
        log_path=tmp_path_factory.mktemp("kamailio") / "kamailio.log",
        voicemail_uri=agent.uri,
        media_relay=media_relay.control.socket_spec,
    )
    yield process
    process.stop()
