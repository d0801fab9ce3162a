#!/bin/sh
# Runs once, when the Postgres volume is first initialised (docker-entrypoint-initdb.d):
#   - "metabase" login and database: Metabase's application database (its questions, dashboards,
#     users), kept apart from the ees data;
#   - "ees_reader": read-only login for analysts and for the Metabase connection to the ees data,
#     with SELECT on every table and view `ees migrate` creates now or later.
# The schema itself belongs to `ees migrate` (run by the migrate service as $POSTGRES_USER).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="$POSTGRES_USER" -v mb_pass="$MB_DB_PASS" -v reader_pass="$EES_READER_PASSWORD" <<'SQL'
CREATE ROLE metabase LOGIN PASSWORD :'mb_pass';
CREATE DATABASE metabase OWNER metabase;
CREATE ROLE ees_reader LOGIN PASSWORD :'reader_pass';
GRANT CONNECT ON DATABASE :"DBNAME" TO ees_reader;
GRANT USAGE ON SCHEMA public TO ees_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ees_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO ees_reader;
SQL
