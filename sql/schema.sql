-- Source data (schema analytics), the read model (schema export_service) and their roles.
SET client_min_messages = warning;
-- Idempotent: scripts/stack.sh applies it on every start.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'export_reader') THEN
    -- The extractor's role: read-only, and subject to row-level security (no BYPASSRLS).
    CREATE ROLE export_reader LOGIN PASSWORD 'export_reader' NOSUPERUSER NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'export_service') THEN
    -- The projection's and API's role: owns the read model, cannot read the fact tables.
    CREATE ROLE export_service LOGIN PASSWORD 'export_service' NOSUPERUSER NOBYPASSRLS;
  END IF;
END $$;

CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.fact_trades (
    id            bigint PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    trade_date    date NOT NULL,
    executed_at   timestamptz NOT NULL,
    symbol        text NOT NULL,
    side          text NOT NULL,
    quantity      numeric(18, 4) NOT NULL,
    price         numeric(18, 6) NOT NULL,
    notional      numeric(24, 6),
    counterparty  text,
    trader        text,
    notes         text
);
CREATE INDEX IF NOT EXISTS fact_trades_tenant_id ON analytics.fact_trades (tenant_id, id);
CREATE INDEX IF NOT EXISTS fact_trades_tenant_date ON analytics.fact_trades (tenant_id, trade_date);

CREATE TABLE IF NOT EXISTS analytics.fact_quotes (
    id          bigint PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    quote_date  date NOT NULL,
    quoted_at   timestamptz NOT NULL,
    symbol      text NOT NULL,
    bid         numeric(18, 6),
    ask         numeric(18, 6),
    bid_size    numeric(18, 4),
    ask_size    numeric(18, 4),
    venue       text,
    notes       text
);
CREATE INDEX IF NOT EXISTS fact_quotes_tenant_id ON analytics.fact_quotes (tenant_id, id);
CREATE INDEX IF NOT EXISTS fact_quotes_tenant_date ON analytics.fact_quotes (tenant_id, quote_date);

CREATE TABLE IF NOT EXISTS analytics.fact_orders (
    id           bigint PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    order_date   date NOT NULL,
    created_at   timestamptz NOT NULL,
    symbol       text NOT NULL,
    side         text NOT NULL,
    order_type   text NOT NULL,
    quantity     numeric(18, 4) NOT NULL,
    limit_price  numeric(18, 6),
    status       text NOT NULL,
    client_ref   text,
    notes        text
);
CREATE INDEX IF NOT EXISTS fact_orders_tenant_id ON analytics.fact_orders (tenant_id, id);
CREATE INDEX IF NOT EXISTS fact_orders_tenant_date ON analytics.fact_orders (tenant_id, order_date);

-- Row-level security: a reader sees only the tenant named in app.tenant_id, which the
-- extractor sets per transaction (SET LOCAL). Unset means no rows, never all rows.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['fact_trades', 'fact_quotes', 'fact_orders'] LOOP
    EXECUTE format('ALTER TABLE analytics.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE analytics.%I FORCE ROW LEVEL SECURITY', t);
    IF NOT EXISTS (SELECT FROM pg_policies WHERE schemaname = 'analytics' AND tablename = t
                   AND policyname = 'tenant_isolation') THEN
      EXECUTE format($p$CREATE POLICY tenant_isolation ON analytics.%I FOR SELECT
        USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)$p$, t);
    END IF;
  END LOOP;
END $$;

GRANT USAGE ON SCHEMA analytics TO export_reader;
GRANT SELECT ON analytics.fact_trades, analytics.fact_quotes, analytics.fact_orders TO export_reader;

-- The read model: rebuilt at any time from export.events by `python -m projections.rebuild`.
CREATE SCHEMA IF NOT EXISTS export_service AUTHORIZATION export_service;

CREATE TABLE IF NOT EXISTS export_service.export_jobs (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    name              varchar(255) NOT NULL,
    description       text,
    query_definition  jsonb NOT NULL,
    format            varchar(20) NOT NULL,
    format_options    jsonb,
    status            varchar(20) NOT NULL DEFAULT 'PENDING',
    delivery          jsonb,
    requested_by      uuid NOT NULL,
    requested_at      timestamptz NOT NULL,
    started_at        timestamptz,
    completed_at      timestamptz,
    processed_rows    bigint NOT NULL DEFAULT 0,
    total_rows        bigint,
    progress_percent  numeric(5, 2) NOT NULL DEFAULT 0,
    output_path       varchar(500),
    file_size_bytes   bigint,
    file_count        integer,
    download_url      varchar(500),
    expires_at        timestamptz,
    error_message     text,
    error_code        varchar(64),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- The last event sequence applied: the projection skips anything at or below it.
    last_sequence     bigint NOT NULL DEFAULT 0,
    -- The folded job state (domain.job.JobState) the columns above were written from.
    job_state         jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_export_jobs_tenant ON export_service.export_jobs (tenant_id, requested_by);
CREATE INDEX IF NOT EXISTS idx_export_jobs_status ON export_service.export_jobs (tenant_id, status);
CREATE INDEX IF NOT EXISTS idx_export_jobs_date ON export_service.export_jobs (requested_at);

CREATE TABLE IF NOT EXISTS export_service.export_files (
    job_id      uuid NOT NULL REFERENCES export_service.export_jobs (id) ON DELETE CASCADE,
    chunk_index integer NOT NULL,
    part        integer NOT NULL DEFAULT 1,
    file_name   varchar(255) NOT NULL,
    path        varchar(500) NOT NULL,
    row_count   bigint NOT NULL,
    byte_count  bigint NOT NULL,
    sha256      char(64) NOT NULL,
    PRIMARY KEY (job_id, chunk_index, part)
);
-- Read models made before files had parts: add the column and widen the key.
ALTER TABLE export_service.export_files ADD COLUMN IF NOT EXISTS part integer NOT NULL DEFAULT 1;
DO $$
BEGIN
  IF (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
      WHERE c.relname = 'export_files' AND i.indisprimary AND i.indnatts = 2) = 1 THEN
    ALTER TABLE export_service.export_files DROP CONSTRAINT export_files_pkey;
    ALTER TABLE export_service.export_files ADD PRIMARY KEY (job_id, chunk_index, part);
  END IF;
END $$;

-- Delivery after completion (S3, SFTP, EMAIL), added with delivery.
ALTER TABLE export_service.export_jobs
    ADD COLUMN IF NOT EXISTS delivery_status varchar(20),
    ADD COLUMN IF NOT EXISTS delivery_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS delivery_error text,
    ADD COLUMN IF NOT EXISTS delivered_to varchar(1100),
    ADD COLUMN IF NOT EXISTS delivered_at timestamptz;

-- When rows were last reported, added with the progress rate and completion estimate.
ALTER TABLE export_service.export_jobs ADD COLUMN IF NOT EXISTS progressed_at timestamptz;

-- Every event of every job, as appended to export.events: the audit trail the API serves.
CREATE TABLE IF NOT EXISTS export_service.job_events (
    job_id       uuid NOT NULL REFERENCES export_service.export_jobs (id) ON DELETE CASCADE,
    sequence     bigint NOT NULL,
    event_type   varchar(64) NOT NULL,
    occurred_at  timestamptz NOT NULL,
    event        jsonb NOT NULL,
    PRIMARY KEY (job_id, sequence)
);
ALTER TABLE export_service.job_events OWNER TO export_service;

-- Each user's quota counters, as the quotas table last held them (GET /v1/exports/quota).
CREATE TABLE IF NOT EXISTS export_service.quota_usage (
    tenant_id    uuid NOT NULL,
    user_id      uuid NOT NULL,
    day          date NOT NULL,
    rows_used    bigint NOT NULL,
    exports_used integer NOT NULL,
    active_jobs  text[] NOT NULL,
    version      bigint NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
ALTER TABLE export_service.quota_usage OWNER TO export_service;

ALTER TABLE export_service.export_jobs OWNER TO export_service;
ALTER TABLE export_service.export_files OWNER TO export_service;

-- Schedules and their runs, folded from export.schedules (agents/projection_agent.py).
CREATE TABLE IF NOT EXISTS export_service.export_schedules (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    owner_id        uuid NOT NULL,
    name            varchar(255) NOT NULL,
    description     text,
    cron            varchar(255) NOT NULL,
    timezone        varchar(64) NOT NULL,
    -- ACTIVE, PAUSED, DELETED, or REJECTED (a CreateSchedule refused; see rejection).
    status          varchar(20) NOT NULL,
    spec            jsonb NOT NULL,
    rejection       jsonb,
    -- The first slot not yet decided: the leader's tick asks for schedules due by now.
    next_slot_at    timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_sequence   bigint NOT NULL,
    -- The folded state (domain.schedule.ScheduleState); null for a rejected schedule.
    schedule_state  jsonb
);
CREATE INDEX IF NOT EXISTS idx_export_schedules_owner ON export_service.export_schedules (tenant_id, owner_id);
CREATE INDEX IF NOT EXISTS idx_export_schedules_due ON export_service.export_schedules (next_slot_at)
    WHERE status = 'ACTIVE';
ALTER TABLE export_service.export_schedules OWNER TO export_service;

CREATE TABLE IF NOT EXISTS export_service.schedule_runs (
    schedule_id  uuid NOT NULL REFERENCES export_service.export_schedules (id) ON DELETE CASCADE,
    slot         timestamptz NOT NULL,
    run_number   bigint,
    job_id       uuid,
    -- RUNNING, COMPLETED, FAILED or SKIPPED.
    status       varchar(20) NOT NULL,
    rows         bigint,
    key_after    bigint,
    key_through  bigint,
    reason       text,
    decided_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (schedule_id, slot)
);
ALTER TABLE export_service.schedule_runs OWNER TO export_service;
