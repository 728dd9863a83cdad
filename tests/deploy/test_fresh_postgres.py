"""On a PostgreSQL exactly as Debian installs it, `make` sets up a database the product reaches.

Debian's cluster authenticates TCP connections with scram-sha-256 and its `postgres` role has no
password, so the old default URL (`postgres@127.0.0.1`) is refused there. These tests build such
a cluster on a free port, run deploy/scripts/ensure-database.sh against it and connect with what
it wrote, checking that the cluster's authentication was never touched.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pbx.engine.process import free_port, start_engine

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "scripts" / "ensure-database.sh"
ENGINE_URL = (
    "from django.db import connection; from pbx.engine.process import postgres_url; "
    "print(postgres_url(connection.settings_dict))"
)


def run(*args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """One of the machine's programs, by its full path."""
    program = shutil.which(args[0])
    assert program is not None, f"{args[0]} is not installed"
    return subprocess.run(  # noqa: S603 - the test's own arguments
        [program, *args[1:]], check=check, capture_output=True, text=True, timeout=60, **kwargs
    )


@dataclass(frozen=True)
class Cluster:
    version: str
    name: str
    port: int

    @property
    def hba(self) -> Path:
        return Path("/etc/postgresql") / self.version / self.name / "pg_hba.conf"

    def psql_as_postgres(self, sql: str) -> None:
        run(
            *("runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"),
            *("-h", "/var/run/postgresql", "-p", str(self.port), "-d", "postgres", "-c", sql),
            cwd="/",
        )


@pytest.fixture
def fresh_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Cluster]:
    """A new cluster with Debian's defaults (peer, scram-sha-256), dropped even on failure."""
    if shutil.which("pg_createcluster") is None:
        pytest.skip("pg_createcluster is absent (Debian's postgresql-common is not installed)")
    # Nothing may supply a password behind the test's back.
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    version = max(os.listdir("/usr/lib/postgresql"), key=int)
    cluster = Cluster(version=version, name=f"pbxfresh{os.getpid()}", port=free_port())
    try:
        run("pg_createcluster", version, cluster.name, "-p", str(cluster.port))
        run("pg_ctlcluster", "--skip-systemctl-redirect", version, cluster.name, "start")
        yield cluster
    finally:
        run("pg_dropcluster", "--stop", version, cluster.name, check=False)


def without_database_url(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | extra


def ensure_database(port: int, env_file: Path, **extra: str) -> str:
    env = without_database_url(PGPORT=str(port), PBX_LOCAL_ENV_FILE=str(env_file)) | extra
    result = run("bash", str(SCRIPT), check=False, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def current_user(url: str) -> str:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.slow
def test_the_product_reaches_a_fresh_debian_postgres(
    fresh_cluster: Cluster, tmp_path: Path
) -> None:
    port = fresh_cluster.port
    hba_before = fresh_cluster.hba.read_bytes()
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", connect_timeout=5)
    assert str(refused.value) == (
        f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
        "fe_sendauth: no password supplied"
    )
    env_file = tmp_path / "var" / "local.env"

    out = ensure_database(port, env_file)

    assert out.splitlines() == [
        f"[database] wrote DATABASE_URL to {env_file}",
        f"[database] role pbx and database pbx ready on port {port}",
    ]
    assert env_file.stat().st_mode & 0o777 == 0o600
    content = env_file.read_text()
    (url,) = [line.removeprefix("DATABASE_URL=") for line in content.splitlines() if "=" in line]
    password = url.removeprefix("postgres://pbx:").split("@")[0]
    assert (len(password), url) == (48, f"postgres://pbx:{password}@127.0.0.1:{port}/pbx")
    assert current_user(url) == "pbx"
    # pytest-django creates and drops test_<name> as this role.
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE test_pbx")
        conn.execute("DROP DATABASE test_pbx")

    # The settings find the URL in the env file alone, then an explicit DATABASE_URL works too.
    product = without_database_url(
        DJANGO_SETTINGS_MODULE="pbx.settings",
        PBX_ENVIRONMENT="development",
        PBX_LOCAL_ENV_FILE=str(env_file),
        REDIS_URL="redis://127.0.0.1:6379/13",
    )
    # (--skip-checks: the system checks import every URLconf, which is other tests' business.)
    migrated = manage("migrate", "--noinput", "--skip-checks", env=product)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    explicit = product | {"DATABASE_URL": url, "PBX_LOCAL_ENV_FILE": str(tmp_path / "absent")}
    checked = manage("migrate", "--check", "--skip-checks", env=explicit)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The engine gets its URL from Django's connection settings and connects at startup.
    shown = manage("shell", "--no-imports", "-c", ENGINE_URL, env=product)
    assert (shown.returncode, shown.stdout) == (0, f"{url}\n"), shown.stderr
    engine = start_engine(
        db_url=url,
        django_url="http://127.0.0.1:9",
        token="fresh-postgres",
        workers=1,
        log_path=tmp_path / "kamailio.log",
    )
    engine.stop()

    # A second run keeps the password; a run after the role's password changed repairs it.
    assert ensure_database(port, env_file).splitlines() == [
        f"[database] role pbx and database pbx ready on port {port}"
    ]
    assert env_file.read_text() == content
    fresh_cluster.psql_as_postgres("ALTER ROLE pbx PASSWORD 'changed-behind-our-back'")
    with pytest.raises(
        psycopg.OperationalError, match='password authentication failed for user "pbx"'
    ):
        current_user(url)
    ensure_database(port, env_file)
    assert (env_file.read_text(), current_user(url)) == (content, "pbx")

    assert fresh_cluster.hba.read_bytes() == hba_before


def test_leaves_a_database_url_from_the_environment_alone(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"

    out = ensure_database(1, env_file, DATABASE_URL="postgres://someone@db.example/theirs")

    assert out == "[database] DATABASE_URL is set in the environment: leaving the database to it\n"
    assert not env_file.exists()
