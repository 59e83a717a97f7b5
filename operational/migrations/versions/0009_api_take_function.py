"""``auditoryx_api_take``: an API key's check, its last-use stamp and its rate-limit take in one
statement (PostgreSQL only; nothing changes on SQLite).

Every API request with a key used to cost the database a transaction of three statements sent in
one pipeline (``BEGIN``, the tenant scope, a locking ``UPDATE`` of the buckets joined with the key's
row, ``COMMIT``), a ping of the pooled connection before it, and once a minute a separate
last-used update. This function does all of it as one autocommit statement, with its plans cached
by PL/pgSQL for the session:

- reads the key of ``p_key_hash`` (as ``auditoryx_api_key_by_hash``); no row when there is none or
  it belongs to another tenant than ``p_tenant`` (the caller then takes the separate lookup);
- a key that no longer works (revoked, expired, organization inactive) comes back with
  ``usable = false`` and no bucket is touched: the revocation counts at once;
- otherwise scopes the transaction to the key's tenant (``app.tenant_id``: row-level security),
  sets ``synchronous_commit = off`` for it (a crash may forget the last fraction of a second of
  bucket levels, which only ever hands back a few requests), stamps ``last_used_at`` when it is
  older than ``p_touch_every`` seconds, and takes ``p_take`` tokens from every bucket, or as many
  as the emptiest bucket holds (``taken``; 0 when one holds less than one token: refused, as
  ``operational.rate_limits.decide``), creating missing buckets full; it returns the levels before
  the take, in bucket order. ``p_take = 0`` checks the key only (the caller still holds tokens it
  took before, ``operational.rate_limits`` leases).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APP_ROLE = "auditoryx_app"
FUNCTION = "auditoryx_api_take(text, text, text[], float8[], float8[], float8, float8, integer)"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    schema = op.get_bind().scalar(sa.text("SELECT quote_ident(current_schema())"))
    op.execute(f"""
        CREATE FUNCTION auditoryx_api_take(p_key_hash text, p_tenant text, p_buckets text[],
                                           p_capacities float8[], p_rates float8[], p_now float8,
                                           p_touch_every float8, p_take integer)
        RETURNS TABLE (key_id varchar, org_id varchar, scopes jsonb, expires_at timestamptz,
                       revoked_at timestamptz, org_active boolean, org_plan varchar,
                       usable boolean, taken integer, buckets text[], levels float8[])
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
        #variable_conflict use_column
        DECLARE
            k record;
            v_now timestamptz := to_timestamp(p_now);
            v_count integer := cardinality(p_buckets);
            v_buckets text[];
            v_levels float8[];
            v_taken integer;
        BEGIN
            SELECT ak.id, ak.org_id, ak.scopes, ak.expires_at, ak.revoked_at, ak.last_used_at,
                   o.is_active, o.plan
              INTO k
              FROM api_keys ak JOIN organizations o ON o.id = ak.org_id
             WHERE ak.key_hash = p_key_hash;
            IF NOT FOUND OR k.org_id <> p_tenant THEN
                RETURN;
            END IF;
            IF k.revoked_at IS NOT NULL OR NOT k.is_active
               OR (k.expires_at IS NOT NULL AND k.expires_at <= v_now) THEN
                RETURN QUERY SELECT k.id, k.org_id, k.scopes, k.expires_at, k.revoked_at, k.is_active,
                                    k.plan, false, 0, NULL::text[], NULL::float8[];
                RETURN;
            END IF;
            PERFORM set_config('app.tenant_id', k.org_id, true),
                    set_config('synchronous_commit', 'off', true);
            IF k.last_used_at IS NULL OR k.last_used_at < v_now - make_interval(secs => p_touch_every) THEN
                UPDATE api_keys SET last_used_at = v_now
                 WHERE id = k.id
                   AND (last_used_at IS NULL OR last_used_at < v_now - make_interval(secs => p_touch_every));
            END IF;
            IF p_take < 1 THEN  -- the caller holds tokens it took before: the key's check only
                RETURN QUERY SELECT k.id, k.org_id, k.scopes, k.expires_at, k.revoked_at, k.is_active,
                                    k.plan, true, 0, NULL::text[], NULL::float8[];
                RETURN;
            END IF;
            FOR attempt IN 1..2 LOOP
                WITH wanted AS (
                    SELECT * FROM unnest(p_buckets, p_capacities, p_rates) AS w(bucket, capacity, per_second)
                ),
                locked AS MATERIALIZED (
                    SELECT b.bucket, b.tokens, b.refilled_at, w.capacity, w.per_second
                      FROM api_rate_buckets b JOIN wanted w ON w.bucket = b.bucket
                     WHERE b.org_id = p_tenant
                     ORDER BY b.bucket
                       FOR UPDATE OF b
                ),
                lv AS MATERIALIZED (
                    SELECT l.bucket, l.refilled_at,
                           least(l.capacity, l.tokens + greatest(0.0, p_now - l.refilled_at) * l.per_second) AS level
                      FROM locked l
                ),
                verdict AS MATERIALIZED (
                    SELECT CASE WHEN count(*) = v_count
                                THEN greatest(0, least(p_take, floor(coalesce(min(lv.level), 0))::integer))
                                ELSE 0 END AS n
                      FROM lv
                ),
                taken AS (
                    UPDATE api_rate_buckets b
                       SET tokens = lv.level - verdict.n,
                           refilled_at = greatest(p_now, lv.refilled_at)
                      FROM lv CROSS JOIN verdict
                     WHERE b.bucket = lv.bucket
                    RETURNING b.bucket, lv.level, verdict.n
                )
                SELECT array_agg(t.bucket ORDER BY t.bucket), array_agg(t.level ORDER BY t.bucket), min(t.n)
                  INTO v_buckets, v_levels, v_taken
                  FROM taken t;
                EXIT WHEN coalesce(cardinality(v_buckets), 0) = v_count OR attempt = 2;
                -- a bucket did not exist yet (nothing was taken): create the missing ones full
                INSERT INTO api_rate_buckets (bucket, org_id, tokens, refilled_at)
                SELECT w.bucket, p_tenant, w.capacity, p_now
                  FROM unnest(p_buckets, p_capacities) AS w(bucket, capacity)
                ON CONFLICT DO NOTHING;
            END LOOP;
            RETURN QUERY SELECT k.id, k.org_id, k.scopes, k.expires_at, k.revoked_at, k.is_active, k.plan,
                                true,
                                CASE WHEN coalesce(cardinality(v_buckets), 0) = v_count THEN coalesce(v_taken, 0)
                                     ELSE 0 END,
                                v_buckets, v_levels;
        END
        $$""")
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
