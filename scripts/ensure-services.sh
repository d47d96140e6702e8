#!/usr/bin/env bash
# Makes sure the services the tests need are running. Idempotent: does nothing when they are.
#
# PostgreSQL: the machine's cluster on 127.0.0.1:5432 (trust auth, user postgres, databases
# test/postgres/root). If it is not accepting connections, start it and wait up to ~30 s.
set -euo pipefail

pg_host=127.0.0.1
pg_port=5432

if pg_isready -q -h "$pg_host" -p "$pg_port"; then
  exit 0
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [[ -z "$version" ]]; then
  echo "ensure-services: no PostgreSQL cluster found under /etc/postgresql" >&2
  exit 1
fi
echo "ensure-services: starting PostgreSQL $version (cluster main)" >&2
# Starting an already-starting cluster fails harmlessly; readiness below is what counts.
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true

for _ in $(seq 1 60); do
  if pg_isready -q -h "$pg_host" -p "$pg_port"; then
    echo "ensure-services: PostgreSQL is accepting connections" >&2
    exit 0
  fi
  sleep 0.5
done
echo "ensure-services: PostgreSQL did not accept connections on $pg_host:$pg_port within 30 s" >&2
exit 1
