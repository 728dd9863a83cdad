"""The media relay (rtpengine): every call's audio goes through it, so phones behind NAT, the
voicemail agent, SRTP devices and browsers (ICE, DTLS-SRTP) reach each other.

Kamailio drives it over rtpengine's "ng" control protocol (bencoded dictionaries over UDP, each
prefixed by a cookie); this module starts it for `make run` and the tests, and speaks the same
protocol to read a call's statistics (packets and bytes per stream and direction). Production
runs rtpengine under systemd (deploy/production) with the same settings.
"""

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pbx.engine.bencode import bdecode, bencode


class MediaRelayError(RuntimeError):
    pass


@dataclass(frozen=True)
class MediaRelaySettings:
    """Where the relay listens for media and what it announces in SDP.

    `address` is the local address media sockets bind to; `advertised_address` is what callers
    are told to send to (a public address in front of a 1:1 NAT, e.g. a cloud VM's elastic IP),
    empty meaning `address` itself. Ports `port_min`..`port_max` (UDP) must be open to phones."""

    address: str = "127.0.0.1"
    advertised_address: str = ""
    port_min: int = 30000
    port_max: int = 30999
    control_port: int = 22222  # ng protocol, UDP, on 127.0.0.1 (or `address` in a namespace)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "MediaRelaySettings":
        defaults = cls()
        return cls(
            address=environ.get("PBX_MEDIA_ADDRESS", defaults.address),
            advertised_address=environ.get("PBX_MEDIA_ADVERTISED_ADDRESS", ""),
            port_min=int(environ.get("PBX_MEDIA_PORT_MIN", defaults.port_min)),
            port_max=int(environ.get("PBX_MEDIA_PORT_MAX", defaults.port_max)),
            control_port=int(environ.get("PBX_MEDIA_CONTROL_PORT", defaults.control_port)),
        )

    @property
    def interface(self) -> str:
        if self.advertised_address and self.advertised_address != self.address:
            return f"{self.address}!{self.advertised_address}"
        return self.address


class NgClient:
    """rtpengine's ng control protocol: one request, one reply, matched by cookie."""

    def __init__(self, host: str, port: int, *, timeout: float = 2.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout

    @property
    def socket_spec(self) -> str:
        """The address as Kamailio's rtpengine module names it."""
        return f"udp:{self.host}:{self.port}"

    def command(self, name: str, **arguments: Any) -> dict[str, Any]:
        cookie = secrets.token_hex(6).encode()
        request = cookie + b" " + bencode({"command": name, **arguments})
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(self.timeout)
            sock.sendto(request, (self.host, self.port))
            while True:
                try:
                    data = sock.recv(65535)
                except OSError as exc:
                    raise MediaRelayError(f"rtpengine {name}: {exc}") from exc
                got_cookie, _, body = data.partition(b" ")
                if got_cookie == cookie:
                    break
        reply = bdecode(body)
        if not isinstance(reply, dict):
            raise MediaRelayError(f"rtpengine {name}: not a dictionary")
        if reply.get("result") == "error":
            raise MediaRelayError(f"rtpengine {name}: {reply.get('error-reason')}")
        return reply

    def ping(self) -> bool:
        try:
            return self.command("ping").get("result") == "pong"
        except MediaRelayError:
            return False

    def calls(self) -> list[str]:
        """Call-IDs the relay holds now."""
        return [str(call_id) for call_id in self.command("list").get("calls", [])]

    def query(self, call_id: str) -> dict[str, Any]:
        return self.command("query", **{"call-id": call_id})


@dataclass(frozen=True)
class StreamCounts:
    """What the relay received from one party of a call (one monologue's audio stream)."""

    tag: str
    address: str  # where that party's media came from (the NAT's public side, for a NATed phone)
    packets: int
    bytes: int


def stream_counts(query: Mapping[str, Any]) -> list[StreamCounts]:
    """Per party, the RTP packets the relay received (rtpengine's `query` reply)."""
    counts = []
    for tag, monologue in (query.get("tags") or {}).items():
        for media in monologue.get("medias", []):
            if media.get("type") != "audio":
                continue
            for stream in media.get("streams", []):
                if stream.get("component", 1) != 1:
                    continue  # RTCP
                endpoint = stream.get("endpoint") or {}
                stats = stream.get("stats") or {}
                counts.append(
                    StreamCounts(
                        tag=str(tag),
                        address=f"{endpoint.get('address', '')}:{endpoint.get('port', '')}",
                        packets=int(stats.get("packets", 0)),
                        bytes=int(stats.get("bytes", 0)),
                    )
                )
    return counts


@dataclass
class MediaRelayProcess:
    settings: MediaRelaySettings
    control: NgClient
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_media_relay(
    settings: MediaRelaySettings,
    *,
    log_path: Path,
    netns: str | None = None,
    control_host: str = "127.0.0.1",
    startup_timeout: float = 10.0,
) -> MediaRelayProcess:
    """rtpengine in userspace (no kernel module needed: `--table=-1`), in the foreground.
    `netns`: run it inside that network namespace (tests of phones behind NAT); its control
    socket is then on `control_host` inside the namespace."""
    binary = shutil.which("rtpengine") or "/usr/bin/rtpengine"
    if not Path(binary).exists():
        raise MediaRelayError("rtpengine is not installed (deploy/kamailio/install.sh)")
    args = [
        binary,
        "--config-file=none",
        "--table=-1",
        "--foreground",
        "--log-stderr",
        # 6 (info) in a namespace: its "Startup complete" line is the readiness probe there
        f"--log-level={6 if netns else 5}",
        f"--interface={settings.interface}",
        f"--listen-ng={control_host}:{settings.control_port}",
        f"--port-min={settings.port_min}",
        f"--port-max={settings.port_max}",
        "--delete-delay=0",
        "--timeout=180",  # no RTP at all for 3 min (longer than any ringing): dead
        "--silent-timeout=3600",
        "--num-threads=2",
    ]
    if netns:
        args = ["ip", "netns", "exec", netns, *args]
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    relay = MediaRelayProcess(
        settings, NgClient(control_host, settings.control_port), process, log_path
    )
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MediaRelayError(f"rtpengine exited with {process.returncode}:\n{relay.log()}")
        # In a namespace the control socket is not reachable from here: the log tells instead.
        if ("Startup complete" in relay.log()) if netns else relay.control.ping():
            return relay
        time.sleep(0.1)
    relay.stop()
    raise MediaRelayError(f"rtpengine did not start in time:\n{relay.log()[-3000:]}")
