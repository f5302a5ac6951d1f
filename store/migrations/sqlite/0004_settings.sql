-- Settings every process must agree on, such as the key session cookies
-- are signed with when none is configured.
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
