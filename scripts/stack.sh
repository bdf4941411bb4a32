#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft, from Maven Central jars), a PostgreSQL
# cluster of the project's own, the delivery servers (moto's S3 server, an asyncssh SFTP
# server, an aiosmtpd SMTP server), plus the service's worker and API processes.
#
#   scripts/stack.sh up        start Kafka, PostgreSQL and the delivery servers (idempotent)
#   scripts/stack.sh start-smtp / stop-smtp, start-sftp / stop-sftp   one delivery server
#   scripts/stack.sh stop-kafka / start-kafka   the broker alone (the fault tests use these)
#   scripts/stack.sh services  start the worker(s) and the API in the background (idempotent)
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
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
# The demo tenants; the third keeps its exports in the S3 store, the others in local folders.
TENANTS="11111111-1111-4111-8111-111111111111 22222222-2222-4222-8222-222222222222 33333333-3333-4333-8333-333333333333 44444444-4444-4444-8444-444444444444"
S3_STORE_TENANT=33333333-3333-4333-8333-333333333333

mkdir -p "$LOGS" "$PIDS"

print_env() {
  cat <<EOF
export DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:$PG_PORT/analytics
export EXPORT_READER_DATABASE_URL=postgresql://export_reader:export_reader@127.0.0.1:$PG_PORT/analytics
export EXPORT_SERVICE_DATABASE_URL=postgresql://export_service:export_service@127.0.0.1:$PG_PORT/analytics
export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export EXPORT_API_PORT=$API_PORT
export EXPORT_API_URL=http://127.0.0.1:$API_PORT
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
export STACK_SFTP_PORT=$SFTP_PORT
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

stop_pid() {
  local name=$1 pattern=$2 signal=${3:-TERM} pid
  if running "$name" "$pattern"; then
    pid=$(cat "$PIDS/$name.pid")
    log "stopping $name (pid $pid)"
    kill -"$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && { log "$name did not stop in 15 s, killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$PIDS/$name.pid"
}

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
    --s3-key customer --s3-secret customer-secret --tenants "${TENANTS// /,}"
}

start_delivery_servers() {
  write_delivery_setup
  start_s3
  start_sftp
  start_smtp
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

start_services() {
  eval "$(print_env)"
  "$PY" -m agents.topics --create
  raise_demo_limits
  mkdir -p "$EXPORT_STORE_DIR"
  for i in $(seq 1 "$WORKERS"); do
    local name="worker-$i"
    if running "$name" "agents worker"; then log "$name already running"; continue; fi
    mkdir -p "$EXPORT_WORKER_DATA_DIR/$i"
    (cd "$ROOT" && EXPORT_WORKER_ID=$i exec "$PY" -m agents worker --loglevel=info \
      --without-web >>"$LOGS/$name.log" 2>&1) &
    echo $! >"$PIDS/$name.pid"
    log "started $name (pid $(cat "$PIDS/$name.pid")), log $LOGS/$name.log"
  done
  if running api "uvicorn"; then log "api already running"; else
    (cd "$ROOT" && exec "$PY" -m uvicorn api.main:app --host 127.0.0.1 --port "$API_PORT" \
      --log-level warning >>"$LOGS/api.log" 2>&1) &
    echo $! >"$PIDS/api.pid"
    for _ in $(seq 1 80); do
      "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$EXPORT_API_URL/healthz', timeout=1)" 2>/dev/null && break
      sleep 0.25
    done
    log "api on $EXPORT_API_URL (pid $(cat "$PIDS/api.pid")), log $LOGS/api.log"
  fi
}

seed() {
  local rows=${1:-1000000}
  eval "$(print_env)"
  psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -f "$ROOT/sql/seed.sql"
  psql -qAt "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "SELECT analytics.seed($((rows)))" | sed 's/^/[stack] /' >&2
  # VACUUM sets the visibility map, so counts and key walks are index-only scans.
  psql -q "$DATABASE_URL" -c "VACUUM ANALYZE analytics.fact_trades, analytics.fact_quotes, analytics.fact_orders"
}

stop_services() {
  stop_pid api uvicorn
  for f in "$PIDS"/worker-*.pid; do
    [ -e "$f" ] || continue
    stop_pid "$(basename "$f" .pid)" "agents worker"
  done
}

case "${1:-}" in
  up) start_postgres; start_kafka; start_delivery_servers ;;
  start-kafka) start_kafka ;;
  stop-kafka) stop_pid kafka "$STACK/kafka/server.properties" ;;
  start-smtp) start_smtp ;;
  stop-smtp) stop_pid smtp "smtp_server.py" ;;
  start-sftp) start_sftp ;;
  stop-sftp) stop_pid sftp "sftp_server.py serve" ;;
  seed) seed "${2:-1000000}" ;;
  services) start_services ;;
  restart-services) stop_services; start_services ;;
  down) stop_services; stop_pid smtp "smtp_server.py"; stop_pid sftp "sftp_server.py serve"; stop_pid s3 moto_server
    stop_pid kafka "$STACK/kafka/server.properties"; stop_pid postgres "$STACK/pg/data" INT ;;
  status)
    for f in "$PIDS"/*.pid; do
      [ -e "$f" ] || continue
      n=$(basename "$f" .pid); p=$(cat "$f")
      if kill -0 "$p" 2>/dev/null; then echo "$n running (pid $p)"; else echo "$n stopped (stale pid $p)"; fi
    done ;;
  env) print_env ;;
  *) echo "usage: $0 up|seed [N]|services|restart-services|down|status|env|start-smtp|stop-smtp|start-sftp|stop-sftp" >&2; exit 2 ;;
esac
