-- Issue 11: how many tokens each list holds in all, revoked ones too (the
-- "of 50,000 tokens" beside a filtered list), kept as tokens are added
-- rather than counted on every page, which read up to 10,001 entries of
-- an index per list.
--
-- A row per organization, kind and member: member_id 0 is the kind's
-- whole list, and a personal token counts in its member's list too.
-- Revoking a token changes no total. The triggers keep it whoever writes
-- tokens; a migration that rebuilds tokens drops them with it and must
-- make them again.

CREATE TABLE token_totals (
	org_id    INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	member_id INTEGER NOT NULL,
	tokens    INTEGER NOT NULL,
	PRIMARY KEY (org_id, kind, member_id)
) WITHOUT ROWID;

INSERT INTO token_totals (org_id, kind, member_id, tokens)
	SELECT org_id, kind, 0, count(*) FROM tokens GROUP BY org_id, kind;
INSERT INTO token_totals (org_id, kind, member_id, tokens)
	SELECT org_id, kind, member_id, count(*) FROM tokens WHERE member_id IS NOT NULL GROUP BY org_id, kind, member_id;

CREATE TRIGGER token_totals_insert AFTER INSERT ON tokens BEGIN
	INSERT INTO token_totals (org_id, kind, member_id, tokens) SELECT new.org_id, new.kind, 0, 1 WHERE true
		ON CONFLICT (org_id, kind, member_id) DO UPDATE SET tokens = tokens + 1;
	INSERT INTO token_totals (org_id, kind, member_id, tokens) SELECT new.org_id, new.kind, new.member_id, 1 WHERE new.member_id IS NOT NULL
		ON CONFLICT (org_id, kind, member_id) DO UPDATE SET tokens = tokens + 1;
END;

-- Tokens are kept for the record, but a tool or a test may delete one.
CREATE TRIGGER token_totals_delete AFTER DELETE ON tokens BEGIN
	UPDATE token_totals SET tokens = tokens - 1
		WHERE org_id = old.org_id AND kind = old.kind AND member_id IN (0, ifnull(old.member_id, 0));
END;

CREATE TRIGGER token_totals_update AFTER UPDATE OF org_id, kind, member_id ON tokens BEGIN
	UPDATE token_totals SET tokens = tokens - 1
		WHERE org_id = old.org_id AND kind = old.kind AND member_id IN (0, ifnull(old.member_id, 0));
	INSERT INTO token_totals (org_id, kind, member_id, tokens) SELECT new.org_id, new.kind, 0, 1 WHERE true
		ON CONFLICT (org_id, kind, member_id) DO UPDATE SET tokens = tokens + 1;
	INSERT INTO token_totals (org_id, kind, member_id, tokens) SELECT new.org_id, new.kind, new.member_id, 1 WHERE new.member_id IS NOT NULL
		ON CONFLICT (org_id, kind, member_id) DO UPDATE SET tokens = tokens + 1;
END;
