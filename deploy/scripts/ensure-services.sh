#!/usr/bin/env bash
# Make sure the services the tests and `make run` use are up: PostgreSQL (with the project's
# role and database, deploy/scripts/ensure-database.sh) and Redis.
# Installs them from Debian's packages when missing (needs root), starts them when down.
# With --optional it never fails: `make run` falls back to SQLite when they are unavailable.
set -uo pipefail

optional=0
[[ "${1:-}" == "--optional" ]] && optional=1

say() { echo "[services] $*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

ensure_packages() {
  local missing=()
  command -v pg_isready >/dev/null || missing+=(postgresql postgresql-client)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

start_postgres() {
  pg_up && return 0
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [[ -n "$version" ]] || return 1
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_up && return 0; sleep 0.5; done
  return 1
}

start_redis() {
  redis_up && return 0
  say "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_up && return 0; sleep 0.2; done
  return 1
}

# Once PostgreSQL is up, the project's own role and database (and their URL in var/local.env):
# Debian's default cluster refuses a passwordless `postgres` over TCP.
status=0
if ! ensure_packages; then say "could not install packages"; status=1; fi
if start_postgres; then
  say "PostgreSQL is up"
  bash "$(dirname "$0")/ensure-database.sh" || { say "could not set up the database"; status=1; }
else
  say "PostgreSQL is NOT available"; status=1
fi
if start_redis; then say "Redis is up"; else say "Redis is NOT available"; status=1; fi
if ((optional)); then exit 0; fi
exit $status
