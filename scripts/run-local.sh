#!/usr/bin/env bash
# Start the portal locally: migrate, load demo data, then web, worker, sandbox and the embedded
# Redis. Ctrl-C stops every process this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FLASK_APP=wsgi
# A local demo, also on a local PostgreSQL: generated secrets and the embedded Redis are fine here.
export PORTAL_ENV="${PORTAL_ENV:-development}"
# So a person can watch a travel claim filed: 30 s after check-in, not 24 h after the appointment.
export TRAVEL_CLAIM_DELAY_SECONDS="${TRAVEL_CLAIM_DELAY_SECONDS:-30}"
# …and its decision a minute later: the follower asks every 30 s instead of every hour.
export TRAVEL_CLAIM_STATUS_EVERY_SECONDS="${TRAVEL_CLAIM_STATUS_EVERY_SECONDS:-30}"
export TRAVEL_CLAIM_STATUS_SWEEP_SECONDS="${TRAVEL_CLAIM_STATUS_SWEEP_SECONDS:-30}"

"$BIN/flask" db upgrade
REDIS_URL_IN_USE=$("$BIN/flask" redis-url)   # starts the embedded Redis when REDIS_URL is unset
export REDIS_URL="${REDIS_URL:-$REDIS_URL_IN_USE}"
DEMO=$("$BIN/flask" demo-data)

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping…"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$BIN/python" -c "from portal.config import PROJECT_ROOT; from portal.redis_embedded import stop_embedded_redis; import os; stop_embedded_redis(os.environ.get('INSTANCE_PATH') or str(PROJECT_ROOT / 'instance'))" || true
  echo "Stopped."
}
trap stop INT TERM EXIT

"$BIN/gunicorn" --workers 2 --bind 127.0.0.1:5000 wsgi:app &
pids+=($!)
"$BIN/flask" worker &
pids+=($!)
"$BIN/flask" --app portal.sandbox run --host 127.0.0.1 --port 5001 &
pids+=($!)

sleep 2
cat <<MSG

  Care Portal is running:  http://127.0.0.1:5000
  Sandbox (external systems): http://127.0.0.1:5001
  Redis: $REDIS_URL

$DEMO

  Two-factor for the demo admin, doctor and reporting accounts: after the password, type the code that
      .venv/bin/flask --app wsgi demo-codes
  prints (it changes every 30 s), or add the key CAREPORTALDEMOTOTPSECRETFORDEMOS to an authenticator app.
  Current codes:
$("$BIN/flask" demo-codes | sed 's/^/    /')

  Send more referrals:  .venv/bin/flask --app portal.sandbox send-referral --count 5
  Press Ctrl-C to stop everything.

MSG
wait -n "${pids[@]}"
