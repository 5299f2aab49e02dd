-- Lets FerretDB's indexes serve its own filters (FerretDB v1.24, PostgreSQL backend; applied by
-- servers.sh to the `ferretdb` database at every start, idempotent).
--
-- FerretDB keeps each document as one jsonb value `_jsonb` and answers an equality filter on field f
-- with `_jsonb->'f' @> value` (a path a.b with `_jsonb #> '{a,b}' @> value`). Its own indexes are btree
-- over `(_jsonb->'f')`, which `@>` cannot use: every find, even by `_id`, scans the whole collection
-- and decodes every document. Here each such btree index gets a GIN twin over the same path, which
-- serves `@>`; the twins are made by an event trigger when FerretDB creates an index (a new
-- collection's `_id` index included), and once here for the indexes that exist already.
--
-- FerretDB sends the field name as a query parameter; only a custom plan sees it, so the database
-- plans every statement for its own parameters. And since the planner prices a containment test on a
-- GIN index far above what it costs here, sequential scans are disfavoured (still taken where no index
-- applies), and JIT compilation, which the price of such a scan would otherwise bring on, is off.

SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION tongpin_gin_twin(btree oid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  idx pg_index;
  tbl text;
  expr text;
  keys text[];
  path text;
  twin text;
BEGIN
  SELECT * INTO idx FROM pg_index WHERE indexrelid = btree;
  IF NOT FOUND
     OR (SELECT amname FROM pg_am JOIN pg_class c ON c.relam = pg_am.oid WHERE c.oid = btree) <> 'btree'
     OR NOT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = idx.indrelid AND attname = '_jsonb' AND NOT attisdropped) THEN
    RETURN;
  END IF;
  tbl := idx.indrelid::regclass::text;
  FOR k IN 1 .. idx.indnatts LOOP
    expr := pg_get_indexdef(btree, k, false);
    -- (_jsonb -> 'f'::text), or ((_jsonb -> 'a'::text) -> 'b'::text) for a path
    IF expr !~ '^[( ]*_jsonb( -> ''[A-Za-z0-9_$]+''::text\)?)+[) ]*$' THEN
      CONTINUE;
    END IF;
    SELECT array_agg(m[1]) INTO keys FROM regexp_matches(expr, '''([A-Za-z0-9_$]+)''::text', 'g') AS m;
    IF array_length(keys, 1) = 1 THEN
      path := format('(_jsonb -> %L)', keys[1]);
    ELSE
      path := format('(_jsonb #> %L)', '{' || array_to_string(keys, ',') || '}');
    END IF;
    twin := 'tpgin_' || substr(md5(idx.indrelid::text || path), 1, 24);
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin (%s jsonb_path_ops)',
                   twin, tbl, path);
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION tongpin_gin_twins() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  made record;
BEGIN
  FOR made IN SELECT objid FROM pg_event_trigger_ddl_commands()
              WHERE command_tag = 'CREATE INDEX' AND object_type = 'index' LOOP
    PERFORM tongpin_gin_twin(made.objid);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS tongpin_gin_twins;
CREATE EVENT TRIGGER tongpin_gin_twins ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION tongpin_gin_twins();

-- the indexes made before this trigger existed
SELECT tongpin_gin_twin(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast');

ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan;
ALTER DATABASE ferretdb SET enable_seqscan = off;
-- A disfavoured scan is priced far above the JIT thresholds, which would compile every one of them.
ALTER DATABASE ferretdb SET jit = off;
