"""This machine's own settings file, `var/local.env` (PBX_LOCAL_ENV_FILE to move it).

deploy/scripts/ensure-database.sh keeps the project's database URL there (Debian's PostgreSQL
refuses a passwordless `postgres` over TCP). The settings and `make run` read it before any
default applies; a variable set in the environment always wins. Same format as the production
env file: one VAR=value per line, no quotes, comments on their own line.
"""

from collections.abc import MutableMapping
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "var" / "local.env"


def load_local_env(environment: MutableMapping[str, str]) -> None:
    """Fill in `environment` (usually os.environ) with what the file sets and it does not."""
    # An empty DATABASE_URL names no database (django-environ turns it into an engine-less
    # configuration): it counts as unset.
    if not environment.get("DATABASE_URL"):
        environment.pop("DATABASE_URL", None)
    path = Path(environment.get("PBX_LOCAL_ENV_FILE") or DEFAULT_PATH)
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name and not name.startswith("#"):
            environment.setdefault(name, value)
