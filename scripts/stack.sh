#!/usr/bin/env bash
# The local stack without Docker: Kafka (KRaft, from Maven Central jars) and a PostgreSQL
# cluster of the project's own, plus the service's worker and API processes.
#
#   scripts/stack.sh up        start Kafka and PostgreSQL (idempotent), create roles and schemas
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
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

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
  if running postgres "$data"; then log "postgres already running"; return; fi
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
  as_pg psql -q -h "$run" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "SELECT 1 FROM pg_database WHERE datname='analytics'" | grep -q 1 ||
    as_pg psql -q -h "$run" -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE analytics"
  as_pg psql -q -h "$run" -p "$PG_PORT" -U postgres -d analytics -v ON_ERROR_STOP=1 \
    -f "$ROOT/sql/schema.sql" >>"$LOGS/postgres.log"
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

start_services() {
  eval "$(print_env)"
  "$PY" -m agents.topics --create
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
  up) start_postgres; start_kafka ;;
  seed) seed "${2:-1000000}" ;;
  services) start_services ;;
  restart-services) stop_services; start_services ;;
  down) stop_services; stop_pid kafka "$STACK/kafka/server.properties"; stop_pid postgres "$STACK/pg/data" INT ;;
  status)
    for f in "$PIDS"/*.pid; do
      [ -e "$f" ] || continue
      n=$(basename "$f" .pid); p=$(cat "$f")
      if kill -0 "$p" 2>/dev/null; then echo "$n running (pid $p)"; else echo "$n stopped (stale pid $p)"; fi
    done ;;
  env) print_env ;;
  *) echo "usage: $0 up|seed [N]|services|restart-services|down|status|env" >&2; exit 2 ;;
esac
