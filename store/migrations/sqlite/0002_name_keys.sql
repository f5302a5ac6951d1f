-- Names are unique by their key (store.NameKey: Unicode case folding and
-- normalization, invisible characters ignored), not by SQLite's NOCASE,
-- which folds ASCII only: "Café" and "CAFÉ" are one name. tokend_name_key
-- is NameKey, registered with the driver.
--
-- Rows stored under the old rules may already hold two names with one key
-- (two active tokens "Café" and "CAFÉ" of one member, two organizations
-- "Café" and "CAFÉ"). Both keep working under the names they show; the
-- oldest holds the key, and each later one gets a key no name can have (its
-- key, U+001F, its id), so no new name can be added that looks like any of
-- them.

ALTER TABLE tokens ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE tokens SET name_key = tokend_name_key(name);
UPDATE tokens SET name_key = name_key || char(31) || id
	WHERE revoked_at IS NULL AND EXISTS (
		SELECT 1 FROM tokens o
		WHERE o.revoked_at IS NULL AND o.id < tokens.id AND o.org_id = tokens.org_id AND o.kind = tokens.kind
			AND ifnull(o.member_id, 0) = ifnull(tokens.member_id, 0) AND o.name_key = tokens.name_key);
DROP INDEX tokens_active_name;
CREATE UNIQUE INDEX tokens_active_name ON tokens (org_id, kind, ifnull(member_id, 0), name_key)
	WHERE revoked_at IS NULL;

ALTER TABLE orgs ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE orgs SET name_key = tokend_name_key(name);
UPDATE orgs SET name_key = name_key || char(31) || id
	WHERE EXISTS (SELECT 1 FROM orgs o WHERE o.id < orgs.id AND o.name_key = orgs.name_key);
CREATE UNIQUE INDEX orgs_name_key ON orgs (name_key);
