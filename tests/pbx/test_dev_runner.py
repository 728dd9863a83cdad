"""`make run` picks the local PostgreSQL/Redis when they answer and falls back when not."""

import importlib.util
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from django.conf import settings

from pbx.engine.process import postgres_url

RUN_PY = Path(__file__).resolve().parents[2] / "deploy" / "dev" / "run.py"


@pytest.fixture
def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_run", RUN_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def server_url(database: str) -> str:
    """The test run's PostgreSQL server and role (on Debian's cluster, not `postgres`)."""
    return postgres_url({**settings.DATABASES["default"], "NAME": database})


def test_uses_postgres_and_redis_when_they_answer(runner: ModuleType, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", server_url("pbx_devrun_probe"))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/13")

    env = runner.choose_environment()

    assert env["DATABASE_URL"] == server_url("pbx_devrun_probe")
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/13"
    assert "FALLING BACK" not in capsys.readouterr().out
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "pbx_devrun_probe"')


def test_reads_the_database_url_from_the_local_env_file(
    runner: ModuleType, monkeypatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "local.env"
    env_file.write_text(f"DATABASE_URL={server_url('pbx_devrun_probe')}\n")
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("PBX_LOCAL_ENV_FILE", str(env_file))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/13")

    env = runner.choose_environment()

    assert env["DATABASE_URL"] == server_url("pbx_devrun_probe")
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "pbx_devrun_probe"')


def test_falls_back_and_says_so(runner: ModuleType, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:1/pbx")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")

    env = runner.choose_environment()

    assert env["DATABASE_URL"].startswith("sqlite:///")
    assert env["DATABASE_URL"].endswith("var/pbx.sqlite3")
    assert (env["REDIS_URL"], env["CELERY_BROKER_URL"], env["PBX_TASKS_EAGER"]) == (
        "",
        "memory://",
        "1",
    )
    out = capsys.readouterr().out
    assert "PostgreSQL unreachable: FALLING BACK to SQLite" in out
    assert "Redis unreachable: FALLING BACK" in out


def test_the_engine_gets_a_development_certificate_once(runner: ModuleType, tmp_path: Path) -> None:
    first = runner.dev_tls({}, tmp_path / "tls")
    certificate = (tmp_path / "tls" / "sip.crt").read_bytes()
    again = runner.dev_tls({"PBX_SIP_TLS_PORT": "6061"}, tmp_path / "tls")

    assert first is not None
    assert again is not None
    assert (first.certificate, first.private_key, first.port) == (
        tmp_path / "tls" / "sip.crt",
        tmp_path / "tls" / "sip.key",
        5061,
    )
    assert again.port == 6061
    assert (tmp_path / "tls" / "sip.crt").read_bytes() == certificate  # kept, not remade
    assert certificate.startswith(b"-----BEGIN CERTIFICATE-----")
    assert (tmp_path / "tls" / "sip.key").stat().st_mode & 0o077 == 0


def test_configured_certificate_paths_win(runner: ModuleType, tmp_path: Path, capsys) -> None:
    configured = runner.dev_tls(
        {"PBX_TLS_CERTIFICATE": "/etc/le/fullchain.pem", "PBX_TLS_PRIVATE_KEY": "/etc/le/key.pem"},
        tmp_path / "tls",
    )
    half = runner.dev_tls({"PBX_TLS_CERTIFICATE": "/etc/le/fullchain.pem"}, tmp_path / "tls")

    assert configured is not None
    assert str(configured.certificate) == "/etc/le/fullchain.pem"
    assert not (tmp_path / "tls").exists()
    assert half is None
    assert "PBX_TLS_CERTIFICATE and PBX_TLS_PRIVATE_KEY go together" in capsys.readouterr().out
