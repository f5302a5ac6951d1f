-- Issue 11 (SQLite's 0008): a name search that reads only the tokens whose
-- names hold what is searched for, instead of every token of the list
-- (web's BenchmarkTokenFilters: a search for a name no system token has
-- read all 50,000 of them).
--
-- The search stays t.name_key LIKE '%…%'. A trigram index (pg_trgm, GIN)
-- per kind answers it where the planner finds that cheaper than reading
-- the list, and a name common in one kind costs nothing in a search of the
-- other. The store keeps the planner from reading a list backwards in the
-- hope of meeting a rare name soon (store's searchWindow). fastupdate off:
-- a token is written into the index when it is made, rather than kept in a
-- list every search reads until a vacuum.
--
-- pg_trgm is an extension, which belongs to the database, not to a schema:
-- if it is there, wherever it is, it is used as it is. Otherwise it is made
-- in a schema of its own, tokend_ext, never in tokend's, so that dropping a
-- tokend schema (as the tests do, many side by side in one database) does
-- not drop it from under the others; the advisory lock, the database's and
-- not the schema's, lets one migration at a time make it. Where it cannot
-- be made (no privilege to; not installed on the server), tokend works all
-- the same, its searches reading the lists as before, and logs a warning
-- when it starts; an operator who makes pg_trgm later can make the two
-- indexes as below.

DO $$
DECLARE
	ext_schema text;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('tokend pg_trgm'));
	SELECT n.nspname INTO ext_schema
		FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
		WHERE e.extname = 'pg_trgm';
	IF ext_schema IS NULL THEN
		BEGIN
			CREATE SCHEMA IF NOT EXISTS tokend_ext;
			CREATE EXTENSION pg_trgm SCHEMA tokend_ext;
			ext_schema := 'tokend_ext';
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'tokend: no index for name searches: pg_trgm cannot be made (%)', SQLERRM;
		END;
	END IF;
	IF ext_schema IS NOT NULL THEN
		EXECUTE format('CREATE INDEX tokens_names_personal ON tokens USING gin (name_key %I.gin_trgm_ops) WITH (fastupdate = off) WHERE kind = %L', ext_schema, 'personal');
		EXECUTE format('CREATE INDEX tokens_names_system ON tokens USING gin (name_key %I.gin_trgm_ops) WITH (fastupdate = off) WHERE kind = %L', ext_schema, 'system');
	END IF;
END
$$;
