#!/bin/sh
# Creates (or resets) the runtime role the ioc processes connect as: it can log in and do
# nothing else until `ioc db migrate` (run as the owner, POSTGRES_USER) grants it its
# privileges on the ioc tables. Not a superuser, owns nothing. docs/security.md, "Database roles".
#
# docker compose mounts this file into /docker-entrypoint-initdb.d, so it runs once when the
# database volume is first initialised. It is idempotent; on an existing volume (an upgrade,
# or a new POSTGRES_APP_PASSWORD) run it by hand:
#   docker compose exec db sh /docker-entrypoint-initdb.d/900_ioc_runtime_role.sh
set -eu
: "${POSTGRES_APP_USER:?POSTGRES_APP_USER is not set (see .env.example)}"
: "${POSTGRES_APP_PASSWORD:?POSTGRES_APP_PASSWORD is not set (see .env.example)}"
if [ "$POSTGRES_APP_USER" = "${POSTGRES_USER:-postgres}" ]; then
    echo "POSTGRES_APP_USER must differ from POSTGRES_USER (the owner)" >&2
    exit 1
fi
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
     --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
     <<'SQL'
-- From the environment, not the command line (which `ps` shows).
\getenv app_user POSTGRES_APP_USER
\getenv app_password POSTGRES_APP_PASSWORD
SELECT format('CREATE ROLE %I', :'app_user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') \gexec
ALTER ROLE :"app_user" LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
SQL
echo "runtime role $POSTGRES_APP_USER ready; \`ioc db migrate\` grants its privileges"
