-- Issue 11 (SQLite's 0009): how many tokens each list holds in all, revoked
-- ones too (the "of 50,000 tokens" beside a filtered list), kept as tokens
-- are added rather than counted on every page, which read up to 10,001
-- rows per list.
--
-- A row per organization, kind and member: member_id 0 is the kind's
-- whole list, and a personal token counts in its member's list too.
-- Revoking a token changes no total. The triggers keep it whoever writes
-- tokens, once per statement: a COPY of 100,000 tokens (tokend db copy)
-- adds to each total once, and a statement takes the rows it adds to in
-- one order, so two never wait on each other crosswise. Their functions
-- keep the schema they were made in, whatever search_path calls them.

CREATE TABLE token_totals (
	org_id    bigint NOT NULL,
	kind      text NOT NULL,
	member_id bigint NOT NULL,
	tokens    bigint NOT NULL,
	PRIMARY KEY (org_id, kind, member_id)
);

INSERT INTO token_totals (org_id, kind, member_id, tokens)
	SELECT org_id, kind, 0, count(*) FROM tokens GROUP BY org_id, kind;
INSERT INTO token_totals (org_id, kind, member_id, tokens)
	SELECT org_id, kind, member_id, count(*) FROM tokens WHERE member_id IS NOT NULL GROUP BY org_id, kind, member_id;

CREATE FUNCTION token_totals_added() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	INSERT INTO token_totals AS tt (org_id, kind, member_id, tokens)
		SELECT org_id, kind, member, count(*)
		FROM changed, LATERAL (VALUES (0::bigint), (member_id)) AS m (member)
		WHERE member IS NOT NULL
		GROUP BY org_id, kind, member
		ORDER BY org_id, kind, member
		ON CONFLICT (org_id, kind, member_id) DO UPDATE SET tokens = tt.tokens + excluded.tokens;
	RETURN NULL;
END
$$;

CREATE FUNCTION token_totals_removed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE token_totals tt SET tokens = tt.tokens - r.n
		FROM (SELECT org_id, kind, member, count(*) AS n
			FROM changed, LATERAL (VALUES (0::bigint), (member_id)) AS m (member)
			WHERE member IS NOT NULL
			GROUP BY org_id, kind, member) r
		WHERE tt.org_id = r.org_id AND tt.kind = r.kind AND tt.member_id = r.member;
	RETURN NULL;
END
$$;

CREATE TRIGGER token_totals_insert AFTER INSERT ON tokens
	REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION token_totals_added();
CREATE TRIGGER token_totals_delete AFTER DELETE ON tokens
	REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION token_totals_removed();
-- A token moved to another organization, kind or member (none of tokend's
-- statements does that): taken out of the old totals, put into the new.
CREATE FUNCTION token_totals_moved() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
	UPDATE token_totals SET tokens = tokens - 1
		WHERE org_id = OLD.org_id AND kind = OLD.kind AND member_id IN (0, coalesce(OLD.member_id, 0));
	INSERT INTO token_totals AS tt (org_id, kind, member_id, tokens)
		SELECT NEW.org_id, NEW.kind, member, 1 FROM (VALUES (0::bigint), (NEW.member_id)) AS m (member)
		WHERE member IS NOT NULL
		ON CONFLICT (org_id, kind, member_id) DO UPDATE SET tokens = tt.tokens + 1;
	RETURN NULL;
END
$$;

CREATE TRIGGER token_totals_update AFTER UPDATE OF org_id, kind, member_id ON tokens FOR EACH ROW
	WHEN (OLD.org_id IS DISTINCT FROM NEW.org_id OR OLD.kind IS DISTINCT FROM NEW.kind OR OLD.member_id IS DISTINCT FROM NEW.member_id)
	EXECUTE FUNCTION token_totals_moved();
