#!/usr/bin/env bash
# The project's own PostgreSQL role and database, and the URL that reaches them.
#
# Debian's PostgreSQL authenticates TCP connections with scram-sha-256 and local ones by peer,
# and its `postgres` role has no password: `postgres://postgres@127.0.0.1/...` is refused on a
# fresh machine. So, over the local Unix socket as the `postgres` system user, this script
# creates the login role `pbx` with a generated password and CREATEDB (pytest-django creates
# `test_pbx`), and the database `pbx` owned by it, then keeps
#   DATABASE_URL=postgres://pbx:<password>@127.0.0.1:<port>/pbx
# in the local env file that pbx/settings.py and `make run` read (mode 0600, git-ignored).
# It never touches pg_hba.conf or any other authentication setting of the cluster.
#
# Idempotent: a second run reuses the file's password and sets it on the role again, which
# repairs a role whose password does not match. A database `pbx` (or a leftover `test_pbx`)
# created earlier by another role is handed over to `pbx`, with the objects in its schema.
# Does nothing when DATABASE_URL is set in the environment or names another database in the
# env file: that choice is the user's.
#
# Environment: PGPORT, the cluster to set up (default 5432); PBX_LOCAL_ENV_FILE, the env file
# (default var/local.env in the checkout).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
env_file=${PBX_LOCAL_ENV_FILE:-$root/var/local.env}
port=${PGPORT:-5432}
role=pbx
database=pbx
socket_dir=/var/run/postgresql # Debian's; peer authentication only works over the socket

say() { echo "[database] $*"; }

if [[ -n "${DATABASE_URL:-}" ]]; then
  say "DATABASE_URL is set in the environment: leaving the database to it"
  exit 0
fi

existing=""
[[ -f "$env_file" ]] && existing=$(sed -n 's/^DATABASE_URL=//p' "$env_file" | tail -1)
password=$(sed -n "s|^postgres://$role:\([0-9a-f]\{48\}\)@127\.0\.0\.1:[0-9]*/$database\$|\1|p" \
  <<<"$existing")
if [[ -n "$existing" && -z "$password" ]]; then
  say "$env_file names another database: leaving it alone"
  exit 0
fi
[[ -n "$password" ]] || password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

as_postgres() {
  if [[ $(id -un) == postgres ]]; then "$@"
  elif [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"
  else sudo -n -u postgres -- "$@"; fi
}
# psql as the superuser, over the socket; SQL on stdin so the password never shows in `ps`.
psql_as_postgres() {
  (cd / && as_postgres psql -X -q -At -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" \
    -U postgres "$@")
}

psql_as_postgres -d postgres <<SQL
SELECT 'CREATE ROLE $role' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')
\gexec
ALTER ROLE $role WITH LOGIN CREATEDB PASSWORD '$password';
SELECT 'CREATE DATABASE $database OWNER $role'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$database')
\gexec
SELECT format('ALTER DATABASE %I OWNER TO $role', datname) FROM pg_database
WHERE datname = 'test_$database' AND datdba <> '$role'::regrole
\gexec
SQL

# Tables, views, sequences and functions another role created in the database (an earlier
# `make run` as postgres) become the role's, or migrations could not touch them. Sequences
# that belong to a table follow it.
psql_as_postgres -d "$database" <<SQL
SELECT format('ALTER DATABASE %I OWNER TO $role', current_database())
WHERE (SELECT datdba FROM pg_database WHERE datname = current_database()) <> '$role'::regrole
\gexec
SELECT format('ALTER %s %s OWNER TO $role',
              CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                             WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
  AND c.relowner <> '$role'::regrole
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
UNION ALL
SELECT format('ALTER ROUTINE %s OWNER TO $role', p.oid::regprocedure)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proowner <> '$role'::regrole
\gexec
SQL

url="postgres://$role:$password@127.0.0.1:$port/$database"
if [[ "$existing" != "$url" ]]; then
  mkdir -p "$(dirname "$env_file")"
  tmp=$(mktemp "$env_file.XXXXXX")
  if [[ -s "$env_file" ]]; then
    grep -v '^DATABASE_URL=' "$env_file" >"$tmp" || true
  else
    echo "# This machine's own settings, written by deploy/scripts/ensure-database.sh." >"$tmp"
  fi
  echo "DATABASE_URL=$url" >>"$tmp"
  mv "$tmp" "$env_file"
  say "wrote DATABASE_URL to $env_file"
fi
chmod 600 "$env_file"
say "role $role and database $database ready on port $port"
