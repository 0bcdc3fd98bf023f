#!/bin/sh
# kaiban's own database (escalation notices and their deliveries; later the audit trail, materials,
# page sessions), apart from Temporal's: a role and a database named kaiban. The postgres image runs
# this once, when it initialises an empty data directory; kaiban's services create the tables
# (migrations at start). On an existing volume run the two statements by hand.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v kaiban_password="${POSTGRES_KAIBAN_PASSWORD:?set POSTGRES_KAIBAN_PASSWORD}" <<'SQL'
CREATE ROLE kaiban LOGIN PASSWORD :'kaiban_password';
CREATE DATABASE kaiban OWNER kaiban ENCODING 'UTF8';
SQL
