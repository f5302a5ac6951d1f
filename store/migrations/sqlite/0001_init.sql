-- Times are Unix seconds, UTC. Roles are space-separated role keys.

CREATE TABLE orgs (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
	created_at INTEGER NOT NULL,
	-- The longest lifetime, in days, a new token may have; NULL: no limit.
	max_token_days INTEGER CHECK (max_token_days > 0)
);

CREATE TABLE members (
	id            INTEGER PRIMARY KEY,
	org_id        INTEGER NOT NULL REFERENCES orgs (id),
	email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	roles         TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	left_at       INTEGER,
	-- See change_seq below.
	change_seq    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX members_change_seq ON members (change_seq);

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
	-- Who made it: a member on the page, or a token on the API.
	created_by       INTEGER REFERENCES members (id),
	created_by_token INTEGER REFERENCES tokens (id),
	name          TEXT NOT NULL,
	digest        BLOB NOT NULL UNIQUE,
	last_four     TEXT NOT NULL,
	-- A system token's own roles; empty for a personal token.
	roles         TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER, -- NULL: never
	-- Written at most once a minute per token, off the checking path.
	last_used_at  INTEGER,
	last_used_ip  TEXT,
	revoked_at    INTEGER,
	revoked_by       INTEGER REFERENCES members (id),
	revoked_by_token INTEGER REFERENCES tokens (id),
	revoke_reason TEXT CHECK (revoke_reason IN ('revoked', 'member_left')),
	change_seq    INTEGER NOT NULL DEFAULT 0,
	CHECK ((kind = 'personal') = (member_id IS NOT NULL)),
	CHECK ((created_by IS NULL) != (created_by_token IS NULL)),
	CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);

-- A name is unique among the active tokens of its owner and kind.
CREATE UNIQUE INDEX tokens_active_name ON tokens (org_id, kind, ifnull(member_id, 0), name COLLATE NOCASE)
	WHERE revoked_at IS NULL;

-- The lists: an organization's tokens of a kind, or a member's, newest
-- first, a page at a time.
CREATE INDEX tokens_list ON tokens (org_id, kind, id);
CREATE INDEX tokens_member ON tokens (member_id, id);

CREATE INDEX tokens_change_seq ON tokens (change_seq);

-- Every change that can make a working token stop working (revoke, a member
-- leaving) takes the next number here and stamps it on the rows it changed,
-- so a process that has cached verified tokens re-reads only what changed
-- since the number it last saw.
CREATE TABLE change_seq (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
INSERT INTO change_seq (id, seq) VALUES (1, 0);
