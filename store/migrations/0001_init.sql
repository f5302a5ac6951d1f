-- Times are Unix seconds, UTC. Roles are space-separated role keys.

CREATE TABLE orgs (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
	created_at INTEGER NOT NULL
);

CREATE TABLE members (
	id            INTEGER PRIMARY KEY,
	org_id        INTEGER NOT NULL REFERENCES orgs (id),
	email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	roles         TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	left_at       INTEGER
);

-- Exactly one owner per organization among those who have not left.
CREATE UNIQUE INDEX members_one_owner ON members (org_id)
	WHERE instr(' ' || roles || ' ', ' owner ') > 0 AND left_at IS NULL;

-- Sign-in sessions. The cookie holds a random id; only its digest is kept,
-- so a copy of the database cannot be turned into a signed-in browser.
CREATE TABLE sessions (
	digest     BLOB PRIMARY KEY,
	member_id  INTEGER NOT NULL REFERENCES members (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_member ON sessions (member_id);

CREATE TABLE tokens (
	id            INTEGER PRIMARY KEY,
	org_id        INTEGER NOT NULL REFERENCES orgs (id),
	kind          TEXT NOT NULL CHECK (kind IN ('personal', 'system')),
	-- The member a personal token belongs to; NULL for a system token.
	member_id     INTEGER REFERENCES members (id),
	created_by    INTEGER NOT NULL REFERENCES members (id),
	name          TEXT NOT NULL,
	digest        BLOB NOT NULL UNIQUE,
	last_four     TEXT NOT NULL,
	-- A system token's own roles; empty for a personal token.
	roles         TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	revoked_at    INTEGER,
	revoked_by    INTEGER REFERENCES members (id),
	revoke_reason TEXT CHECK (revoke_reason IN ('revoked', 'member_left')),
	CHECK ((kind = 'personal') = (member_id IS NOT NULL)),
	CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);

-- A name is unique among the active tokens of its owner and kind.
CREATE UNIQUE INDEX tokens_active_name ON tokens (org_id, kind, ifnull(member_id, 0), name COLLATE NOCASE)
	WHERE revoked_at IS NULL;

CREATE INDEX tokens_member ON tokens (member_id);
