"""`make run`: bring the product up on this machine with sensible local defaults.

Uses the local PostgreSQL (the project's role, from the var/local.env that
deploy/scripts/ensure-database.sh writes) and Redis when they answer; otherwise falls back to
SQLite with tasks run in-process, and says so. Then migrates, seeds the demo organisation, and
runs the ASGI server, a Celery worker (with beat), the SIP engine, the media relay and the
voicemail agent until Ctrl-C.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pbx.local_env import load_local_env

if TYPE_CHECKING:
    from pbx.engine.media_relay import MediaRelayProcess
    from pbx.engine.process import EngineProcess, TlsListener

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOST = os.environ.get("PBX_HOST", "127.0.0.1")
PORT = os.environ.get("PBX_PORT", "8000")


def reachable(url: str, default_port: int) -> bool:
    parsed = urlsplit(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def postgres_ready(url: str) -> bool:
    """Connect to the server's `postgres` database and create the app's database if missing."""
    import psycopg

    name = url.rsplit("/", 1)[-1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=2) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
                print(f"[run] created database {name}")
    except psycopg.Error as exc:
        print(f"[run] PostgreSQL at {url} is not usable: {exc}".strip())
        return False
    return True


def choose_environment() -> dict[str, str]:
    env = dict(os.environ)
    load_local_env(env)  # var/local.env: the database URL deploy/scripts/ensure-database.sh set up
    env.setdefault("PBX_ENVIRONMENT", "development")
    env.setdefault("DJANGO_SETTINGS_MODULE", "pbx.settings")
    database_url = env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pbx")
    redis_url = env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # the portal's softphone reaches the engine started below over SIP WebSocket (its TCP port)
    env.setdefault("PBX_SIP_WEBSOCKET_URL", f"ws://{HOST}:{os.environ.get('PBX_SIP_PORT', '5060')}")

    if database_url.startswith("postgres") and not (
        reachable(database_url, 5432) and postgres_ready(database_url)
    ):
        sqlite = ROOT / "var" / "pbx.sqlite3"
        sqlite.parent.mkdir(exist_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{sqlite}"
        print(f"[run] PostgreSQL unreachable: FALLING BACK to SQLite at {sqlite}")
    if redis_url and not reachable(redis_url, 6379):
        env["REDIS_URL"] = ""
        env["CELERY_BROKER_URL"] = "memory://"
        env["PBX_TASKS_EAGER"] = "1"
        print(
            "[run] Redis unreachable: FALLING BACK to in-process tasks, "
            "local-memory cache and channel layer"
        )
    shown = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", env["DATABASE_URL"])  # no secrets
    print(f"[run] database: {shown}")
    print(f"[run] redis:    {env['REDIS_URL'] or '(none)'}")
    return env


def dev_tls(env: dict[str, str], directory: Path = ROOT / "var" / "tls") -> "TlsListener | None":
    """SIP over TLS on PBX_SIP_TLS_PORT (default 5061): with PBX_TLS_CERTIFICATE and
    PBX_TLS_PRIVATE_KEY when set, else a self-signed certificate made once in `directory`."""
    from pbx.engine.process import EngineStartError, TlsListener

    try:
        configured = TlsListener.from_environ(env)
    except (EngineStartError, ValueError) as exc:
        print(f"[run] TLS settings not usable ({exc}): SIP over TLS is OFF")
        return None
    if configured is not None:
        return configured
    script = ROOT / "deploy" / "scripts" / "dev-certificate.sh"
    # the project's own script, with bash from PATH as make runs it
    made = subprocess.run(["bash", str(script), str(directory)], check=False)  # noqa: S607
    if made.returncode != 0:
        print("[run] could not make a development certificate (openssl): SIP over TLS is OFF")
        return None
    return TlsListener.from_environ(
        env
        | {
            "PBX_TLS_CERTIFICATE": str(directory / "sip.crt"),
            "PBX_TLS_PRIVATE_KEY": str(directory / "sip.key"),
        }
    )


def start_dev_media_relay() -> "MediaRelayProcess | None":
    """rtpengine, the media relay every call's audio goes through (PBX_MEDIA_* settings)."""
    sys.path.insert(0, str(ROOT))
    from pbx.engine.media_relay import MediaRelayError, MediaRelaySettings, start_media_relay

    settings = MediaRelaySettings.from_environ(os.environ)
    (ROOT / "var").mkdir(exist_ok=True)
    try:
        relay = start_media_relay(settings, log_path=ROOT / "var" / "rtpengine.log")
    except MediaRelayError as exc:
        print(
            f"[run] the media relay did not start ({str(exc).splitlines()[0]}): calls run "
            "WITHOUT it (media only between phones that reach each other); see var/rtpengine.log"
        )
        return None
    print(
        f"[run] media relay (rtpengine) on {settings.interface}, "
        f"udp {settings.port_min}-{settings.port_max}, log var/rtpengine.log"
    )
    return relay


def start_dev_engine(
    env: dict[str, str], relay: "MediaRelayProcess | None"
) -> "EngineProcess | None":
    """Kamailio on SIP port PBX_SIP_PORT (default 5060, UDP+TCP; JSON-RPC at /RPC) and, for
    TLS, PBX_SIP_TLS_PORT (default 5061)."""
    if not env["DATABASE_URL"].startswith("postgres"):
        print("[run] no PostgreSQL: running WITHOUT the SIP engine")
        return None
    sys.path.insert(0, str(ROOT))
    from pbx.engine.process import EdgeLimits, EngineDecisions, EngineStartError, start_engine

    port = int(os.environ.get("PBX_SIP_PORT", "5060"))
    (ROOT / "var").mkdir(exist_ok=True)
    tls = dev_tls(env)
    try:
        engine = start_engine(
            db_url=env["DATABASE_URL"].replace("postgresql://", "postgres://"),
            django_url=f"http://{HOST}:{ENGINE_API_PORT}",
            token=env.get("PBX_ENGINE_TOKEN", "development-engine-token"),
            port=port,
            log_path=ROOT / "var" / "kamailio.log",
            voicemail_uri=f"sip:{HOST}:{VOICEMAIL_PORT}",
            keepalive=(
                int(os.environ.get("PBX_KEEPALIVE_INTERVAL", "30")),
                int(os.environ.get("PBX_KEEPALIVE_TIMEOUT", "90")),
            ),
            edge=EdgeLimits.from_environ(os.environ),
            media_relay=relay.control.socket_spec if relay else "",
            advertise=os.environ.get("PBX_SIP_ADVERTISED_ADDRESS", ""),
            tls=tls,
            memory_mb=int(os.environ.get("PBX_ENGINE_MEMORY_MB", "256")),
            # calls decided in the engine from Django's cache (Redis); without Redis, by Django
            decisions=(
                EngineDecisions(env["REDIS_URL"], env.get("PBX_CACHE_PREFIX", "pbx"))
                if env["REDIS_URL"] and os.environ.get("PBX_ENGINE_DECISIONS", "1") != "0"
                else None
            ),
        )
    except EngineStartError as exc:
        print(
            f"[run] the SIP engine did not start ({str(exc).splitlines()[0]}); see var/kamailio.log"
        )
        return None
    env["PBX_ENGINE_RPC_URL"] = engine.rpc_url
    print(
        f"[run] SIP engine (Kamailio) on udp/tcp {HOST}:{port} (browsers: ws://{HOST}:{port}), "
        "log var/kamailio.log"
    )
    if tls is not None:
        print(f"[run] SIP over TLS on {HOST}:{tls.port} (certificate {tls.certificate})")
    return engine


VOICEMAIL_PORT = os.environ.get("PBX_VOICEMAIL_PORT", "5070")
ENGINE_API_PORT = os.environ.get("PBX_ENGINE_API_PORT", "8001")


def start_engine_api(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The engine's API (route decisions, event batches) in processes of its own
    (pbx.internal.server), so calls never wait on the web tier."""
    print(f"[run] engine API on http://{HOST}:{ENGINE_API_PORT} (route decisions, events)")
    return subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-m",
            "pbx.internal.server",
            "--host",
            HOST,
            "--port",
            ENGINE_API_PORT,
        ],
        cwd=ROOT,
        env=env,
    )


def start_voicemail_agent(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The voicemail media agent (SIP/RTP on VOICEMAIL_PORT), talking to the web app."""
    agent_env = env | {
        "PBX_VOICEMAIL_LISTEN": f"{HOST}:{VOICEMAIL_PORT}",
        "PBX_DJANGO_INTERNAL_URL": f"http://{HOST}:{PORT}",
    }
    print(f"[run] voicemail agent on udp {HOST}:{VOICEMAIL_PORT}")
    return subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "voicemail.agent"], cwd=ROOT, env=agent_env
    )


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(
        signal.SIGTERM, _stop_on_sigterm
    )  # stop children (engine, workers) on SIGTERM too
    env = choose_environment()
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    with_engine = env["DATABASE_URL"].startswith("postgres")
    relay = start_dev_media_relay() if with_engine else None
    engine_api = start_engine_api(env) if with_engine else None
    engine = start_dev_engine(env, relay)
    processes = [
        subprocess.Popen(
            [
                str(VENV_BIN / "uvicorn"),
                "pbx.asgi:application",
                "--host",
                HOST,
                "--port",
                PORT,
                "--reload",
            ],
            cwd=ROOT,
            env=env,
        )
    ]
    if engine_api is not None:
        processes.append(engine_api)
    if engine is not None:
        processes.append(start_voicemail_agent(env))
    if env["REDIS_URL"]:
        processes.append(
            subprocess.Popen(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "pbx",
                    "worker",
                    "-B",
                    "-Q",
                    "default,push,engine",
                    "-l",
                    "info",
                    "--concurrency",
                    "2",
                    "--schedule",
                    str(ROOT / "var" / "celerybeat-schedule"),
                ],
                cwd=ROOT,
                env=env,
            )
        )
    print(
        f"[run] web app on http://{HOST}:{PORT}/  "
        "(API docs /api/v1/docs, admin /admin/, health /health/)"
    )
    print("[run] Ctrl-C stops everything")
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if engine is not None:
            engine.stop()
        if relay is not None:
            relay.stop()
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
    failed = any(p.returncode not in (0, -signal.SIGTERM, None) for p in processes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
