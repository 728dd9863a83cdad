"""var/local.env fills in what the environment leaves unset; the environment always wins."""

from pathlib import Path

from pbx.local_env import load_local_env


def test_fills_in_unset_variables_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"
    env_file.write_text(
        "# written by deploy/scripts/ensure-database.sh\n"
        "DATABASE_URL=postgres://pbx:secret@127.0.0.1:5432/pbx\n"
        "\n"
        "REDIS_URL=redis://127.0.0.1:6379/3\n"
        "PBX_LOG_LEVEL=DEBUG\n"
    )
    environment = {"PBX_LOCAL_ENV_FILE": str(env_file), "PBX_LOG_LEVEL": "WARNING", "REDIS_URL": ""}

    load_local_env(environment)

    assert environment == {
        "PBX_LOCAL_ENV_FILE": str(env_file),
        "DATABASE_URL": "postgres://pbx:secret@127.0.0.1:5432/pbx",
        "PBX_LOG_LEVEL": "WARNING",
        "REDIS_URL": "",  # empty REDIS_URL means "no Redis": an explicit choice
    }


def test_an_empty_database_url_counts_as_unset(tmp_path: Path) -> None:
    env_file = tmp_path / "local.env"
    env_file.write_text("DATABASE_URL=postgres://pbx:secret@127.0.0.1:5432/pbx\n")
    environment = {"PBX_LOCAL_ENV_FILE": str(env_file), "DATABASE_URL": ""}

    load_local_env(environment)

    assert environment["DATABASE_URL"] == "postgres://pbx:secret@127.0.0.1:5432/pbx"


def test_without_the_file_nothing_changes_but_an_empty_database_url(tmp_path: Path) -> None:
    environment = {"PBX_LOCAL_ENV_FILE": str(tmp_path / "absent.env"), "DATABASE_URL": ""}

    load_local_env(environment)

    assert environment == {"PBX_LOCAL_ENV_FILE": str(tmp_path / "absent.env")}
