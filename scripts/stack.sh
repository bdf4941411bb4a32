#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft, from Maven Central jars), a PostgreSQL
# cluster of the project's own, the delivery servers (moto's S3 server, an asyncssh SFTP
# server, an aiosmtpd SMTP server, a webhook receiver), plus the service's worker and API
# processes. Each worker runs under stack/supervise.py, which restarts it whenever it exits.
#
#   scripts/stack.sh up        start Kafka, PostgreSQL and the delivery servers (idempotent)
#   scripts/stack.sh start-smtp / stop-smtp, start-sftp / stop-sftp   one delivery server
#   scripts/stack.sh stop-kafka / start-kafka   the broker alone (the fault tests use these)
#   scripts/stack.sh stop-postgres / start-postgres   the database alone (for fault tests too)
#   scripts/stack.sh services  start the worker(s) and the API in the background (idempotent)
#   scripts/stack.sh restart-services   stop the worker(s) and the API, then start them
#   scripts/stack.sh stop-workers   stop the worker(s) and their supervisors, leave the API running
#   scripts/stack.sh down      stop everything this script started, by pid
#   scripts/stack.sh status    show what is running
#   scripts/stack.sh seed [N]  load the demo data: N trades (default 1000000), N/2 quotes, N/4 orders
#   scripts/stack.sh env       print the settings as shell export lines
#
# Everything lives under .stack/ (ignored by git); logs are in .stack/logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK="$ROOT/.stack"
LOGS="$STACK/logs"
PIDS="$STACK/pids"
PY="$ROOT/.venv/bin/python"

KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
PG_PORT=${PG_PORT:-15433}
API_PORT=${EXPORT_API_PORT:-8080}
WORKERS=${EXPORT_WORKERS:-1}
S3_PORT=${S3_PORT:-19000}
SFTP_PORT=${SFTP_PORT:-12222}
# Listed in known_hosts with the same host key, but nothing listens there until a test starts
# a server on it (a server that comes up late).
SFTP_SPARE_PORT=${SFTP_SPARE_PORT:-12223}
SMTP_PORT=${SMTP_PORT:-10025}
# The stack's webhook receiver, and the port the integration tests' own receivers listen on.
WEBHOOK_PORT=${WEBHOOK_PORT:-18090}
WEBHOOK_TEST_PORT=${WEBHOOK_TEST_PORT:-18091}
WEBHOOK_KEY=dev-only-webhook-signing-key
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
# The demo tenants; the third keeps its exports in the S3 store, the others in local folders.
TENANTS="11111111-1111-4111-8111-111111111111 22222222-2222-4222-8222-222222222222 33333333-3333-4333-8333-333333333333 44444444-4444-4444-8444-444444444444"
S3_STORE_TENANT=33333333-3333-4333-8333-333333333333
# Its webhooks may not reach loopback or private addresses, as in production.
PUBLIC_WEBHOOKS_TENANT=44444444-4444-4444-8444-444444444444

mkdir -p "$LOGS" "$PIDS"

print_env() {
  cat <<EOF
export DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:$PG_PORT/analytics
export EXPORT_READER_DATABASE_URL=postgresql://export_reader:export_reader@127.0.0.1:$PG_PORT/analytics
export EXPORT_SERVICE_DATABASE_URL=postgresql://export_service:export_service@127.0.0.1:$PG_PORT/analytics
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export EXPORT_API_PORT=$API_PORT
export EXPORT_API_URL=http://127.0.0.1:$API_PORT
# A development stack on loopback: its well-known secrets and the sign-in button are allowed.
export EXPORT_ENVIRONMENT=development
export EXPORT_JWT_SECRET=\${EXPORT_JWT_SECRET:-dev-only-export-jwt-secret-change-me-32b}
export EXPORT_LINK_SECRET=\${EXPORT_LINK_SECRET:-dev-only-export-link-secret-change-me-32}
export EXPORT_STORE_DIR=$STACK/exports
export EXPORT_WORKER_DATA_DIR=$STACK/worker
export EXPORT_STORE=local
export EXPORT_STORE_BY_TENANT=$S3_STORE_TENANT=s3
export EXPORT_S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export EXPORT_S3_REGION=us-east-1
export EXPORT_S3_BUCKET=export-store
export EXPORT_S3_ACCESS_KEY_ID=export-store
export EXPORT_S3_SECRET_ACCESS_KEY=export-store-secret
export EXPORT_DELIVERY_SECRETS=$STACK/delivery-secrets.json
export EXPORT_SFTP_KNOWN_HOSTS=$STACK/sftp/known_hosts
export EXPORT_SMTP_HOST=127.0.0.1
export EXPORT_SMTP_PORT=$SMTP_PORT
export EXPORT_SMTP_SENDER=exports@export-service.localhost
export EXPORT_SMTP_CA_FILE=$STACK/smtp/cert.pem
export EXPORT_DELIVERY_MAX_ATTEMPTS=\${EXPORT_DELIVERY_MAX_ATTEMPTS:-4}
export EXPORT_DELIVERY_RETRY_SECONDS=\${EXPORT_DELIVERY_RETRY_SECONDS:-1}
# Worker N serves its health endpoints (/livez, /readyz, /metrics) on this port + N - 1.
export EXPORT_WORKER_HTTP_PORT=\${EXPORT_WORKER_HTTP_PORT:-18081}
export EXPORT_LOG_FORMAT=\${EXPORT_LOG_FORMAT:-json}
# The web page's development sign-in: this stack is local, so it is on here (off by default).
export EXPORT_DEV_LOGIN=\${EXPORT_DEV_LOGIN:-true}
# Chunks of a few thousand rows are already read by up to three COPY streams here, so the
# tests' small exports take the parallel path too (by default: two streams, 200,000 rows each
# at least).
export EXPORT_MIN_ROWS_PER_STREAM=\${EXPORT_MIN_ROWS_PER_STREAM:-2000}
export EXPORT_STREAMS_PER_CHUNK=\${EXPORT_STREAMS_PER_CHUNK:-3}
export STACK_SFTP_PORT=$SFTP_PORT
export STACK_WEBHOOK_URL=http://127.0.0.1:$WEBHOOK_PORT/exports
export STACK_WEBHOOK_TEST_PORT=$WEBHOOK_TEST_PORT
export STACK_SFTP_SPARE_PORT=$SFTP_SPARE_PORT
export STACK_SFTP_ROOT=$STACK/sftp/root
export STACK_SFTP_KEYS=$STACK/sftp/keys
export STACK_MAILDIR=$STACK/mail
EOF
}

log() { echo "[stack] $*" >&2; }

# A pid file counts only while its process is alive and still runs the command we started.
running() {
  local name=$1 pattern=$2 pid
  [ -f "$PIDS/$name.pid" ] || return 1
  pid=$(cat "$PIDS/$name.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"
}

# Whether the pid runs. A zombie does not: an init that is slow to reap would otherwise keep a
# dead process "running" for status and for stop_pid's wait.
alive() {
  local stat
  [ -n "$1" ] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Signal the process, give it `seconds` (default 15) to exit, then SIGKILL it.
stop_pid() {
  local name=$1 pattern=$2 signal=${3:-TERM} seconds=${4:-15} pid
  if running "$name" "$pattern"; then
    pid=$(cat "$PIDS/$name.pid")
    log "stopping $name (pid $pid)"
    kill -"$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((seconds * 4))); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && { log "$name did not stop in $seconds s, killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$PIDS/$name.pid"
}

# What the processes' command lines contain. "/proc/<pid>/cmdline" ends with a NUL, which
# running() turns into a space: "-m api " matches `python -m api` but not `-m api.dev_token`.
WORKER_PATTERN="agents worker"
API_PATTERN="-m api "
# An API started before `python -m api` existed ran uvicorn itself.
OLD_API_PATTERN="uvicorn api.main:app"
supervisor_pattern() { echo "stack/supervise.py --name $1 "; }

ensure_postgres_installed() {
  if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/postgres" ]; then
    log "installing PostgreSQL from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
}

# PostgreSQL refuses to run as root, so the cluster belongs to the postgres user when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  ensure_postgres_installed
  local data="$STACK/pg/data" run="$STACK/pg/run"
  if running postgres "$data"; then log "postgres already running"; else
    launch_postgres "$data" "$run"; fi
  # Applied on every start: schema.sql is idempotent and migrates older read models.
  as_pg psql -q -h "$run" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "SELECT 1 FROM pg_database WHERE datname='analytics'" | grep -q 1 ||
    as_pg psql -q -h "$run" -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE analytics"
  as_pg psql -q -h "$run" -p "$PG_PORT" -U postgres -d analytics -v ON_ERROR_STOP=1 \
    -f "$ROOT/sql/schema.sql" >>"$LOGS/postgres.log"
}

launch_postgres() {
  local data=$1 run=$2
  mkdir -p "$STACK/pg" "$run"
  [ "$(id -u)" = 0 ] && chown postgres: "$STACK/pg" "$run" && touch "$LOGS/postgres.log" && chown postgres: "$LOGS/postgres.log"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating PostgreSQL cluster in $data"
    local pwfile="$STACK/pg/pw"
    echo postgres >"$pwfile"; [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$LOGS/postgres.log"
    rm -f "$pwfile"
  fi
  as_pg "$PG_BIN/postgres" -D "$data" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$run" -c shared_buffers=256MB -c max_connections=100 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    >>"$LOGS/postgres.log" 2>&1 &
  for _ in $(seq 1 120); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.25
  done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { log "postgres did not start; see $LOGS/postgres.log"; exit 1; }
  # The postmaster's own pid, not runuser's, so that stopping signals the server itself.
  head -n 1 "$data/postmaster.pid" >"$PIDS/postgres.pid"
  log "postgres ready on 127.0.0.1:$PG_PORT"
}

kafka_libs() {
  local libs="$STACK/kafka-libs"
  if [ ! -f "$libs/.complete" ]; then
    log "fetching Kafka's jars from Maven Central into $libs"
    rm -rf "$libs"
    (cd "$ROOT/stack/kafka" && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$libs") >>"$LOGS/maven.log" 2>&1 || { log "mvn failed; see $LOGS/maven.log"; exit 1; }
    touch "$libs/.complete"
  fi
  echo "$libs"
}

start_kafka() {
  local data="$STACK/kafka/data" conf="$STACK/kafka/server.properties" libs
  if running kafka "$conf"; then log "kafka already running"; return; fi
  libs=$(kafka_libs)
  mkdir -p "$data"
  sed -e "s#@DATA_DIR@#$data#" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
    -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" "$ROOT/stack/kafka/server.properties" >"$conf"
  if [ ! -f "$data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
    java -Xmx256m -cp "$libs/*" -Dlog4j.configuration="file:$ROOT/stack/kafka/log4j.properties" \
      -Dkafka.logs.dir="$LOGS" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" \
      --ignore-formatted >>"$LOGS/kafka-format.log" 2>&1
  fi
  java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$ROOT/stack/kafka/log4j.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$libs/*" kafka.Kafka "$conf" >>"$LOGS/kafka-stdout.log" 2>&1 &
  echo $! >"$PIDS/kafka.pid"
  # Ready means the broker answers a metadata request, not merely that the port is open.
  if ! "$PY" -m agents.topics --wait-for-broker "127.0.0.1:$KAFKA_PORT" --timeout 90; then
    log "kafka did not become ready; see $LOGS/kafka-server.log"; exit 1
  fi
  log "kafka ready on 127.0.0.1:$KAFKA_PORT"
}

# moto's S3 server keeps objects in memory: restarting it empties the S3 store.
start_s3() {
  if running s3 "moto_server"; then log "s3 already running"; else
    "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >>"$LOGS/s3.log" 2>&1 &
    echo $! >"$PIDS/s3.pid"
  fi
  eval "$(print_env)"
  "$PY" - <<PY || { log "s3 did not start; see $LOGS/s3.log"; exit 1; }
import time, boto3, botocore
s3 = boto3.client("s3", endpoint_url="$EXPORT_S3_ENDPOINT_URL", region_name="us-east-1",
                  aws_access_key_id="stack", aws_secret_access_key="stack")
for attempt in range(80):
    try:
        s3.list_buckets()
        break
    except botocore.exceptions.EndpointConnectionError:
        time.sleep(0.25)
for bucket in ("$EXPORT_S3_BUCKET", "customer-exports"):
    s3.create_bucket(Bucket=bucket)
PY
  log "s3 (moto) ready on $EXPORT_S3_ENDPOINT_URL, buckets $EXPORT_S3_BUCKET and customer-exports"
}

start_sftp() {
  local dir="$STACK/sftp"
  if running sftp "sftp_server.py serve"; then log "sftp already running"; return; fi
  "$PY" "$ROOT/stack/sftp_server.py" serve --port "$SFTP_PORT" --root "$dir/root" \
    --host-key "$dir/keys/host_key" --keys "$dir/keys" >>"$LOGS/sftp.log" 2>&1 &
  echo $! >"$PIDS/sftp.pid"
  wait_for_port "$SFTP_PORT" sftp
}

start_webhooks() {
  if running webhooks "webhook_receiver.py"; then log "webhook receiver already running"; return; fi
  "$PY" "$ROOT/stack/webhook_receiver.py" --port "$WEBHOOK_PORT" --folder "$STACK/webhooks" \
    --signing-key "$WEBHOOK_KEY" >>"$LOGS/webhooks.log" 2>&1 &
  echo $! >"$PIDS/webhooks.pid"
  wait_for_port "$WEBHOOK_PORT" webhooks
}

start_smtp() {
  local dir="$STACK/smtp"
  if running smtp "smtp_server.py"; then log "smtp already running"; return; fi
  mkdir -p "$dir" "$STACK/mail"
  if [ ! -f "$dir/cert.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout "$dir/key.pem" -out "$dir/cert.pem" >>"$LOGS/smtp.log" 2>&1
  fi
  "$PY" "$ROOT/stack/smtp_server.py" --port "$SMTP_PORT" --maildir "$STACK/mail" \
    --cert "$dir/cert.pem" --key "$dir/key.pem" >>"$LOGS/smtp.log" 2>&1 &
  echo $! >"$PIDS/smtp.pid"
  wait_for_port "$SMTP_PORT" smtp
}

wait_for_port() {
  local port=$1 name=$2
  for _ in $(seq 1 80); do
    "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" 2>/dev/null && {
      log "$name ready on 127.0.0.1:$port"; return; }
    sleep 0.25
  done
  log "$name did not start; see $LOGS/$name.log"; exit 1
}

# SFTP keys, known hosts, and the credentials the workers resolve by name (never carried in
# a request or an event).
write_delivery_setup() {
  eval "$(print_env)"
  mkdir -p "$STACK/sftp/root"
  "$PY" "$ROOT/stack/delivery_setup.py" --keys "$STACK_SFTP_KEYS" \
    --known-hosts "$EXPORT_SFTP_KNOWN_HOSTS" \
    --host-names "[127.0.0.1]:$SFTP_PORT,[127.0.0.1]:$SFTP_SPARE_PORT" \
    --secrets "$EXPORT_DELIVERY_SECRETS" --s3-endpoint "$EXPORT_S3_ENDPOINT_URL" \
    --s3-key customer --s3-secret customer-secret --tenants "${TENANTS// /,}" \
    --webhook-key "$WEBHOOK_KEY" --webhooks-public-only "$PUBLIC_WEBHOOKS_TENANT" \
    --webhook-prefixes "http://127.0.0.1:$WEBHOOK_PORT/,http://127.0.0.1:$WEBHOOK_TEST_PORT/,http://localhost:$WEBHOOK_TEST_PORT/"
}

start_delivery_servers() {
  write_delivery_setup
  start_s3
  start_sftp
  start_smtp
  start_webhooks
}

# The test suite runs hundreds of exports a day as a few users: the demo tenants get generous
# limits (recorded on export.limits like any change); the quota tests set their own.
raise_demo_limits() {
  for tenant in $TENANTS; do
    "$PY" -m agents.limits set --tenant "$tenant" --changed-by scripts/stack.sh \
      --max-exports-per-day 1000000 --max-concurrent-exports 1000 \
      --max-rows-per-day 1000000000000 >/dev/null
  done
}

# Each worker runs under stack/supervise.py, which restarts it whenever it exits (backing off
# from 1 s to 30 s) and logs each start and exit as a JSON line in the worker's own log. The
# supervisor's pid is in worker-N.supervisor.pid; the worker's own, rewritten by the supervisor
# at every start, in worker-N.pid, so that signals sent to that pid reach the worker itself.
start_worker() {
  local i=$1 name="worker-$1" pid
  if running "$name.supervisor" "$(supervisor_pattern "$name")"; then
    log "$name already running (supervisor pid $(cat "$PIDS/$name.supervisor.pid"))"; return
  fi
  if running "$name" "$WORKER_PATTERN"; then
    # Started by an older stack.sh, without a supervisor: restart-services replaces it.
    log "$name already running without a supervisor (pid $(cat "$PIDS/$name.pid"))"; return
  fi
  rm -f "$PIDS/$name.pid"
  mkdir -p "$EXPORT_WORKER_DATA_DIR/$i"
  (cd "$ROOT" && EXPORT_WORKER_ID=$i exec "$PY" "$ROOT/stack/supervise.py" --name "$name" \
    --pid-file "$PIDS/$name.pid" -- "$PY" -m agents worker --loglevel=info --without-web \
    >>"$LOGS/$name.log" 2>&1) &
  echo $! >"$PIDS/$name.supervisor.pid"
  for _ in $(seq 1 40); do running "$name" "$WORKER_PATTERN" && break; sleep 0.05; done
  pid=$(cat "$PIDS/$name.pid" 2>/dev/null || echo "not yet known")
  log "started $name (pid $pid, supervisor pid $(cat "$PIDS/$name.supervisor.pid")), log $LOGS/$name.log"
}

start_services() {
  eval "$(print_env)"
  "$PY" -m agents.topics --create
  raise_demo_limits
  mkdir -p "$EXPORT_STORE_DIR"
  for i in $(seq 1 "$WORKERS"); do start_worker "$i"; done
  if running api "$API_PATTERN" || running api "$OLD_API_PATTERN"; then log "api already running"; else
    # api/__main__.py runs uvicorn on 127.0.0.1:$EXPORT_API_PORT with JSON logs.
    (cd "$ROOT" && exec "$PY" -m api >>"$LOGS/api.log" 2>&1) &
    echo $! >"$PIDS/api.pid"
    local ready="" started=$SECONDS
    while [ $((SECONDS - started)) -lt 20 ]; do
      "$PY" "$ROOT/stack/probe.py" "$EXPORT_API_URL/healthz" >/dev/null && { ready=1; break; }
      sleep 0.25
    done
    [ -n "$ready" ] || log "the api did not answer on $EXPORT_API_URL/healthz within 20 s"
    log "api on $EXPORT_API_URL (pid $(cat "$PIDS/api.pid")), log $LOGS/api.log"
  fi
  for i in $(seq 1 "$WORKERS"); do wait_worker_ready "$i"; done
}

# A worker that is up but not yet in its group, or still recovering its tables, leaves a
# command sent now waiting: whoever starts the services (the tests, the demo) waits for every
# worker's /readyz. One that is not ready in time is reported with what its probe says and
# the last lines of its log, and the stack stays up for a look.
wait_worker_ready() {
  local i=$1 name="worker-$1" url answer="" started=$SECONDS
  url="http://127.0.0.1:$((EXPORT_WORKER_HTTP_PORT + $1 - 1))/readyz"
  while [ $((SECONDS - started)) -lt "${EXPORT_READY_SECONDS:-180}" ]; do
    answer=$("$PY" "$ROOT/stack/probe.py" "$url") && { log "$name ready after $((SECONDS - started)) s"; return; }
    sleep 0.5
  done
  log "$name not ready after ${EXPORT_READY_SECONDS:-180} s: ${answer:-no answer on $url}"
  tail -n 20 "$LOGS/$name.log" | sed "s/^/[$name] /" >&2
}

seed() {
  local rows=${1:-1000000}
  eval "$(print_env)"
  psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -f "$ROOT/sql/seed.sql"
  psql -qAt "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "SELECT analytics.seed($((rows)))" | sed 's/^/[stack] /' >&2
  # VACUUM sets the visibility map, so counts and key walks are index-only scans.
  psql -q "$DATABASE_URL" -c "VACUUM ANALYZE analytics.fact_trades, analytics.fact_quotes, analytics.fact_orders"
}

stop_api() {
  if running api "$OLD_API_PATTERN"; then stop_pid api "$OLD_API_PATTERN"; else stop_pid api "$API_PATTERN"; fi
}

# The supervisor first (it stops its worker and does not restart it), waiting longer than the
# 20 s it gives the worker; then the worker's own pid file, which still names a worker if it
# was started without a supervisor (an older stack.sh) or outlived one that was killed.
stop_worker() {
  local name=$1
  stop_pid "$name.supervisor" "$(supervisor_pattern "$name")" TERM 25
  stop_pid "$name" "$WORKER_PATTERN"
}

worker_names() {
  local f
  for f in "$PIDS"/worker-*.pid; do
    [ -e "$f" ] || continue
    f=$(basename "$f" .pid); echo "${f%.supervisor}"
  done | sort -u
}

stop_workers() {
  local name
  for name in $(worker_names); do stop_worker "$name"; done
}

stop_services() {
  stop_api
  stop_workers
}

status() {
  local f n p s
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .pid); p=$(cat "$f")
    case $n in
      worker-*.supervisor) [ -e "$PIDS/${n%.supervisor}.pid" ] && continue ;;  # with its worker
    esac
    if [ -e "$PIDS/$n.supervisor.pid" ]; then
      s=$(cat "$PIDS/$n.supervisor.pid")
      if ! alive "$s"; then
        if alive "$p"; then echo "$n running without its supervisor (pid $p, stale supervisor pid $s)"
        else echo "$n stopped (stale pid $p, stale supervisor pid $s)"; fi
      elif alive "$p"; then echo "$n running (pid $p, supervisor pid $s)"
      else echo "$n restarting (supervisor pid $s running, last pid $p)"; fi
    elif [[ $n == worker-*.supervisor ]]; then
      if alive "$p"; then echo "${n%.supervisor} starting (supervisor pid $p)"
      else echo "${n%.supervisor} stopped (stale supervisor pid $p)"; fi
    elif alive "$p"; then echo "$n running (pid $p)"
    else echo "$n stopped (stale pid $p)"; fi
  done
}

case "${1:-}" in
  up) start_postgres; start_kafka; start_delivery_servers ;;
  start-kafka) start_kafka ;;
  stop-kafka) stop_pid kafka "$STACK/kafka/server.properties" ;;
  start-postgres) start_postgres ;;
  # SIGINT: PostgreSQL's fast shutdown, as `down` does.
  stop-postgres) stop_pid postgres "$STACK/pg/data" INT ;;
  start-smtp) start_smtp ;;
  stop-smtp) stop_pid smtp "smtp_server.py" ;;
  start-sftp) start_sftp ;;
  stop-sftp) stop_pid sftp "sftp_server.py serve" ;;
  seed) seed "${2:-1000000}" ;;
  services) start_services ;;
  restart-services) stop_services; start_services ;;
  stop-workers) stop_workers ;;
  down) stop_services; stop_pid webhooks "webhook_receiver.py"; stop_pid smtp "smtp_server.py"; stop_pid sftp "sftp_server.py serve"; stop_pid s3 moto_server
    stop_pid kafka "$STACK/kafka/server.properties"; stop_pid postgres "$STACK/pg/data" INT ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 up|seed [N]|services|restart-services|stop-workers|down|status|env|start-kafka|stop-kafka|start-postgres|stop-postgres|start-smtp|stop-smtp|start-sftp|stop-sftp" >&2; exit 2 ;;
esac
