#!/usr/bin/env bash
# Runs the whole suite. With CI=true every tier is mandatory: services are started
# and tools installed when missing, and a tier that cannot run fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = "true" ]; then
  need=()
  command -v oathtool >/dev/null || need+=(oathtool)
  command -v chromium >/dev/null || need+=(chromium)
  command -v pdftotext >/dev/null || need+=(poppler-utils)
  command -v janus >/dev/null || need+=(janus)
  command -v janus-pp-rec >/dev/null || need+=(janus-tools)
  command -v turnserver >/dev/null || need+=(coturn)
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    for _ in $(seq 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done
  fi
  export HEYAT_REQUIRE_POSTGRES=1 HEYAT_REQUIRE_REDIS=1 HEYAT_REQUIRE_BROWSER=1 HEYAT_REQUIRE_TOOLS=1 \
    HEYAT_REQUIRE_MEDIA=1  # Janus, coturn and (as root) a network namespace: tests/media
fi
mkdir -p test-artifacts
set +e
# One worker per core (HEYAT_TEST_WORKERS to change it); a file's tests stay on one worker,
# so module-scoped arrangements (the access matrix's world) are built once.
.venv/bin/pytest -n "${HEYAT_TEST_WORKERS:-$(nproc)}" --dist loadfile "$@"
status=$?
set -e
# pytest exits 5 when it collected nothing: that is a failure, never a pass.
if [ $status -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi
exit $status
