-- Deterministic demo data for the three demo tenants, generated inside PostgreSQL so that a
-- million rows take seconds. The same arguments always give the same rows (no random()).
-- Usage: SELECT analytics.seed(1000000);  -- trades; quotes and orders are fractions of it.

CREATE OR REPLACE FUNCTION analytics.demo_tenant(i bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
  SELECT (ARRAY['11111111-1111-4111-8111-111111111111',
                '22222222-2222-4222-8222-222222222222',
                '33333333-3333-4333-8333-333333333333'])[1 + (i % 3)]::uuid
$$;

-- A cheap integer hash, so columns look varied but stay reproducible.
CREATE OR REPLACE FUNCTION analytics.demo_hash(i bigint, salt bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT ((i * 2654435761 + salt * 40503) % 4294967291 + 4294967291) % 4294967291 $$;

-- Text that breaks naive CSV writers: commas, quotes, newlines, non-ASCII, empty and NULL.
CREATE OR REPLACE FUNCTION analytics.demo_note(i bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  -- (i / 3) so that every tenant (i % 3) gets every kind of text.
  SELECT CASE (i / 3) % 9
    WHEN 0 THEN NULL
    WHEN 1 THEN 'routine fill'
    WHEN 2 THEN 'split, partial fill, ' || i
    WHEN 3 THEN 'client said "urgent"'
    WHEN 4 THEN E'line one\nline two'
    WHEN 5 THEN 'Zürich – café ✓ ' || i
    WHEN 6 THEN ''
    WHEN 7 THEN E'tab\there; semi;colon'
    ELSE 'back\slash ''single'' 東京'
  END
$$;

CREATE OR REPLACE FUNCTION analytics.seed(p_trades bigint DEFAULT 1000000,
                                          p_quotes bigint DEFAULT NULL,
                                          p_orders bigint DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  n_quotes bigint := coalesce(p_quotes, p_trades / 2);
  n_orders bigint := coalesce(p_orders, p_trades / 4);
  symbols text[] := ARRAY['AAPL', 'MSFT', 'NESN.SW', 'SAP.DE', '7203.T', 'BRK.B', 'VOD.L', 'ASML.AS'];
  base timestamptz := '2026-01-02 09:30:00+00';
BEGIN
  IF (SELECT count(*) FROM analytics.fact_trades) = p_trades
     AND (SELECT count(*) FROM analytics.fact_quotes) = n_quotes
     AND (SELECT count(*) FROM analytics.fact_orders) = n_orders THEN
    RETURN format('already seeded: %s trades, %s quotes, %s orders', p_trades, n_quotes, n_orders);
  END IF;
  TRUNCATE analytics.fact_trades, analytics.fact_quotes, analytics.fact_orders;

  INSERT INTO analytics.fact_trades
  SELECT i,
         analytics.demo_tenant(i),
         (base + (i * interval '7 seconds'))::date,
         base + (i * interval '7 seconds') + (analytics.demo_hash(i, 1) % 1000000) * interval '1 microsecond',
         symbols[1 + analytics.demo_hash(i, 2) % 8],
         CASE WHEN i % 2 = 0 THEN 'BUY' ELSE 'SELL' END,
         (1 + analytics.demo_hash(i, 3) % 100000) / 100.0,
         (analytics.demo_hash(i, 4) % 100000000) / 100000.0 + 0.000001,
         CASE WHEN i % 11 = 0 THEN NULL
              ELSE round((1 + analytics.demo_hash(i, 3) % 100000) / 100.0
                         * ((analytics.demo_hash(i, 4) % 100000000) / 100000.0 + 0.000001), 6) END,
         CASE WHEN i % 5 = 0 THEN NULL ELSE 'CP-' || (analytics.demo_hash(i, 5) % 500) END,
         'trader_' || (i % 37),
         analytics.demo_note(i)
  FROM generate_series(1, p_trades) AS i;

  INSERT INTO analytics.fact_quotes
  SELECT i,
         analytics.demo_tenant(i),
         (base + (i * interval '3 seconds'))::date,
         base + (i * interval '3 seconds') + (analytics.demo_hash(i, 6) % 1000000) * interval '1 microsecond',
         symbols[1 + analytics.demo_hash(i, 7) % 8],
         (analytics.demo_hash(i, 8) % 100000000) / 100000.0,
         (analytics.demo_hash(i, 8) % 100000000) / 100000.0 + 0.01,
         CASE WHEN i % 13 = 0 THEN NULL ELSE (analytics.demo_hash(i, 9) % 1000000) / 100.0 END,
         (analytics.demo_hash(i, 10) % 1000000) / 100.0,
         (ARRAY['XNAS', 'XSWX', 'XETR', 'XTKS'])[1 + i % 4],
         analytics.demo_note(i + 4)
  FROM generate_series(1, n_quotes) AS i;

  INSERT INTO analytics.fact_orders
  SELECT i,
         analytics.demo_tenant(i),
         (base + (i * interval '11 seconds'))::date,
         base + (i * interval '11 seconds'),
         symbols[1 + analytics.demo_hash(i, 11) % 8],
         CASE WHEN i % 3 = 0 THEN 'SELL' ELSE 'BUY' END,
         CASE WHEN i % 4 = 0 THEN 'MARKET' ELSE 'LIMIT' END,
         (1 + analytics.demo_hash(i, 12) % 100000) / 100.0,
         CASE WHEN i % 4 = 0 THEN NULL ELSE (analytics.demo_hash(i, 13) % 100000000) / 100000.0 END,
         (ARRAY['FILLED', 'CANCELLED', 'OPEN', 'REJECTED'])[1 + analytics.demo_hash(i, 14) % 4],
         'ref-' || i,
         analytics.demo_note(i + 2)
  FROM generate_series(1, n_orders) AS i;

  ANALYZE analytics.fact_trades;
  ANALYZE analytics.fact_quotes;
  ANALYZE analytics.fact_orders;
  RETURN format('seeded %s trades, %s quotes, %s orders', p_trades, n_quotes, n_orders);
END
$$;
