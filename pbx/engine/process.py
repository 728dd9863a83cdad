"""Start and stop a Kamailio engine with the project's configuration (development and tests).

Production runs Kamailio under systemd with the same configuration file; this module is what
`make run` and the test fixtures use to run one on unprivileged ports.
"""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "kamailio" / "kamailio.cfg"
MEMORY_MANAGER = "tlsf"


class EngineStartError(RuntimeError):
    pass


def engine_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment Kamailio runs in: this one without any Python virtualenv. Kamailio's
    embedded Python (app_python3, deploy/kamailio/decide.py) is Debian's and finds its prefix
    from the `python3` first on PATH: started from an activated virtualenv it took the venv's
    and found none of Debian's packages (psycopg2), and the engine did not start."""
    env = {
        name: value
        for name, value in environ.items()
        if name not in {"VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH"}
    }
    if "PATH" in env:
        env["PATH"] = os.pathsep.join(
            entry
            for entry in env["PATH"].split(os.pathsep)
            if entry and not (Path(entry).parent / "pyvenv.cfg").exists()
        )
    return env


@dataclass
class EngineProcess:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    rpc_via: str = ""  # the JSON-RPC URL when the engine runs in another network namespace
    tls_port: int | None = None

    @property
    def rpc_url(self) -> str:
        return self.rpc_via or f"http://{self.host}:{self.port}/RPC"

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


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port
    raise EngineStartError("no free port")


EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_MEDIA_PORT = 10000


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel picks from when a socket binds to port 0."""
    try:
        low, high = (int(part) for part in EPHEMERAL_PORTS.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return low, high


def free_udp_range(size: int, host: str = "127.0.0.1") -> int:
    """The first of `size` consecutive UDP ports that are free right now (media ports), outside
    the kernel's ephemeral range. Inside it, a port handed out later to a socket bound to port 0
    (every sipp, `free_port`) can fall in the relay's range: when the relay then binds that port
    too (both with SO_REUSEADDR) the newer socket takes the datagrams, and a test phone stops
    hearing the engine mid-run (seen in make bench: calls stalled after a few hundred)."""
    import random

    ephemeral_low, ephemeral_high = ephemeral_ports()
    if ephemeral_low - size > LOWEST_MEDIA_PORT:
        bounds = (LOWEST_MEDIA_PORT, ephemeral_low - size)
    elif ephemeral_high + 1 < 65535 - size:
        bounds = (ephemeral_high + 1, 65535 - size)
    else:
        raise EngineStartError(f"no room for {size} media ports outside the ephemeral range")
    for _ in range(50):
        low = random.randrange(*bounds, 2)  # noqa: S311 - not a secret
        sockets = []
        try:
            for port in (low, low + size // 2, low + size - 1):
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(udp)
                udp.bind((host, port))
        except OSError:
            continue
        finally:
            for udp in sockets:
                udp.close()
        return low
    raise EngineStartError("no free UDP port range")


def postgres_url(settings_dict: dict[str, object]) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD")
    auth = f"{quote(str(user), safe='')}:{quote(str(password), safe='')}" if password else f"{user}"
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


@dataclass(frozen=True)
class EdgeLimits:
    """The engine's defence at the SIP edge (deploy/kamailio/parts/edge.cfg), from the
    environment (`PBX_EDGE_AUTH_FAILURES`, ...) in `make run` and production."""

    auth_failures: int = 10  # failed authentications from an address before it is banned
    auth_failures_known: int = 50  # the same, for an address where a device authenticated
    account_failures: int = 20  # failures on one account before unknown addresses are refused
    ban_seconds: int = 300  # the first ban; each repeat within a day doubles it
    ban_max_seconds: int = 86400
    flood_requests: int = 0  # new requests per 2 s from one address before a ban (0: off)
    exempt: str = "127.0.0.1/32"  # never counted nor banned (the engine's own host)
    ban_sync_seconds: int = 30  # bans Django holds are restored this often (after a restart)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "EdgeLimits":
        defaults = cls()
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            raw = environ.get(f"PBX_EDGE_{name.upper()}")
            if raw is not None:
                values[name] = raw if name == "exempt" else int(raw)
        return replace(defaults, **values)

    def engine_args(self) -> list[str]:
        return [
            "-A",
            f"EDGE_AUTH_FAILURES={self.auth_failures}",
            "-A",
            f"EDGE_AUTH_FAILURES_KNOWN={self.auth_failures_known}",
            "-A",
            f"EDGE_ACCOUNT_FAILURES={self.account_failures}",
            "-A",
            f"EDGE_BAN_S={self.ban_seconds}",
            "-A",
            f"EDGE_BAN_MAX_S={self.ban_max_seconds}",
            "-A",
            f"EDGE_FLOOD_REQUESTS={self.flood_requests}",
            "-A",
            f'EDGE_EXEMPT="{self.exempt}"',
            "-A",
            f"EDGE_BAN_SYNC_S={self.ban_sync_seconds}",
        ]


@dataclass(frozen=True)
class TlsListener:
    """SIP over TLS (deploy/kamailio/parts/tls.cfg): the port and the PEM certificate (chain)
    and private key, from the environment (`PBX_SIP_TLS_PORT`, `PBX_TLS_CERTIFICATE`,
    `PBX_TLS_PRIVATE_KEY`) in `make run` and production. No certificate: no TLS listener."""

    certificate: Path
    private_key: Path
    port: int = 5061

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "TlsListener | None":
        certificate = environ.get("PBX_TLS_CERTIFICATE", "")
        private_key = environ.get("PBX_TLS_PRIVATE_KEY", "")
        if not certificate and not private_key:
            return None
        if not certificate or not private_key:
            raise EngineStartError("PBX_TLS_CERTIFICATE and PBX_TLS_PRIVATE_KEY go together")
        port = environ.get("PBX_SIP_TLS_PORT", "")
        return cls(
            certificate=Path(certificate),
            private_key=Path(private_key),
            port=int(port) if port else cls.port,
        )

    def engine_args(self, host: str, advertised_host: str = "") -> list[str]:
        """`advertised_host`: the public address behind a 1:1 NAT (with this listener's port)."""
        for path in (self.certificate, self.private_key):
            if not path.is_file():
                raise EngineStartError(f"TLS: {path} is not a file")
        advertised = f" advertise {advertised_host}:{self.port}" if advertised_host else ""
        return [
            "-A",
            "WITH_TLS",
            "-A",
            f"LISTEN_TLS=tls:{host}:{self.port}{advertised}",
            "-A",
            f'TLS_CERTIFICATE="{self.certificate}"',
            "-A",
            f'TLS_PRIVATE_KEY="{self.private_key}"',
        ]


@dataclass(frozen=True)
class EngineDecisions:
    """Decide calls inside the engine (deploy/kamailio/decide.py, routing.in_engine) from
    Django's cache: its Redis URL and KEY_PREFIX. Django is still asked for what needs it."""

    redis_url: str
    cache_prefix: str

    @classmethod
    def from_cache_settings(cls, caches: Mapping[str, Any]) -> "EngineDecisions | None":
        """From Django's CACHES; None when the cache is not Redis (nothing to read there)."""
        default = caches.get("default", {})
        if not str(default.get("BACKEND", "")).endswith("RedisCache"):
            return None
        return cls(str(default["LOCATION"]), str(default.get("KEY_PREFIX", "")))

    def engine_args(self) -> list[str]:
        return [
            "-A",
            "WITH_ENGINE_DECISIONS",
            "-A",
            f'DECIDE_SCRIPT="{CONFIG.parent / "decide.py"}"',
            "-A",
            f'REDIS_URL="{self.redis_url}"',
            "-A",
            f'CACHE_PREFIX="{self.cache_prefix}"',
        ]


def start_engine(
    *,
    db_url: str,
    django_url: str,
    token: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 4,
    log_path: Path,
    rpc_allow: str = "127.0.0.0/8",
    voicemail_uri: str = "",
    keepalive: tuple[int, int] | None = None,
    edge: EdgeLimits | None = None,
    media_relay: str = "",
    advertise: str = "",
    netns: str | None = None,
    rpc_via: str = "",
    tls: TlsListener | None = None,
    memory_mb: int = 256,
    decisions: EngineDecisions | None = None,
    defines: Mapping[str, int] | None = None,
    startup_timeout: float = 15.0,
) -> EngineProcess:
    """`media_relay`: rtpengine's control socket ("udp:127.0.0.1:22222"), which anchors every
    call's media; empty: media flows between the phones directly (only where they can reach each
    other). `advertise`: the public "address:port" written in Via and Record-Route when the
    engine sits behind a 1:1 NAT (a cloud VM's elastic address). `netns`: run inside that
    network namespace (tests of phones behind NAT), JSON-RPC then reached at `rpc_via`.
    `keepalive` = (ping interval, drop after) in seconds: the engine pings every contact with
    OPTIONS and drops one that stops answering. None: no pings (test peers that play a
    fixed scenario would take an OPTIONS for an unexpected call). `edge`: the ban thresholds
    (default EdgeLimits()). `tls`: also listen for SIP over TLS (None: UDP and TCP only).
    `memory_mb`: Kamailio's shared memory (transactions, dialogs, contacts, htables); the
    64 MB default runs out near 400 calls/s forking to 3 ("out of mem" in t_newtran).
    `decisions`: decide calls inside the engine when nothing needs Django (None: every call is
    decided by Django, at `django_url`). `defines`: numbers the configuration lets be set
    (`#!trydef`, e.g. MAX_DECISIONS_QUEUED)."""
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(binary).exists():
        raise EngineStartError("kamailio is not installed (deploy/kamailio/install.sh)")
    port = port or free_port(host)
    advertised = f" advertise {advertise}" if advertise else ""
    args = [
        binary,
        "-DD",
        "-E",
        "-m",
        str(memory_mb),
        "-M",
        "16",
        "-x",
        MEMORY_MANAGER,
        "-f",
        str(CONFIG),
        "-A",
        f"LISTEN_UDP=udp:{host}:{port}{advertised}",
        "-A",
        f"LISTEN_TCP=tcp:{host}:{port}{advertised}",
        "-A",
        f'DBURL="{db_url}"',
        "-A",
        f'SQLCON="pbx=>{db_url}"',
        "-A",
        f'DJANGO_URL="{django_url}"',
        "-A",
        f'ENGINE_TOKEN="{token}"',
        "-A",
        f"WORKERS={workers}",
        "-A",
        f'RPC_ALLOW="{rpc_allow}"',
        "-A",
        f'VOICEMAIL="{voicemail_uri}"',
        "-A",
        f"KEEPALIVE_MODE={1 if keepalive else 0}",
    ]
    if media_relay:
        args += ["-A", "WITH_MEDIA_RELAY", "-A", f'MEDIA_RELAY="{media_relay}"']
    if netns:
        args = ["ip", "netns", "exec", netns, *args]
    args += (edge or EdgeLimits()).engine_args()
    if decisions is not None:
        args += decisions.engine_args()
    for name, value in (defines or {}).items():
        args += ["-A", f"{name}={int(value)}"]
    if tls is not None:
        advertised_host = advertise.rsplit(":", 1)[0] if ":" in advertise else advertise
        args += tls.engine_args(host, advertised_host)
    if keepalive:
        args += [
            "-A",
            f"KEEPALIVE_INTERVAL={keepalive[0]}",
            "-A",
            f"KEEPALIVE_TIMEOUT={keepalive[1]}",
        ]
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603
        args, stdout=log, stderr=subprocess.STDOUT, env=engine_environment(os.environ)
    )
    engine = EngineProcess(host, port, process, log_path, rpc_via, tls.port if tls else None)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineStartError(
                f"kamailio exited with {process.returncode}:\n{engine.log()[-3000:]}"
            )
        try:
            response = httpx.post(
                engine.rpc_url,
                json={"jsonrpc": "2.0", "method": "core.version", "id": 1},
                timeout=1,
            )
            if response.status_code in (200, 403):  # 403: up, but RPC not allowed from here
                return engine
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    engine.stop()
    raise EngineStartError(f"kamailio did not answer JSON-RPC in time:\n{engine.log()[-3000:]}")
