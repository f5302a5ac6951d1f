-- A token's life (issue 10): a description, an address allow-list,
-- rotation with a grace period, leak reports, and its use per day and per
-- client address.
--
-- A leak report revokes with its own reason, which 0001's CHECK on
-- revoke_reason does not allow; only rebuilding the table changes a CHECK
-- (https://sqlite.org/lang_altertable.html#otheralter), so tokens is made
-- anew with the new columns, its rows copied, its indexes made again. The
-- store runs migrations with foreign keys off and checks them all before
-- committing.

CREATE TABLE tokens_new (
	id               INTEGER PRIMARY KEY,
	org_id           INTEGER NOT NULL REFERENCES orgs (id),
	kind             TEXT NOT NULL CHECK (kind IN ('personal', 'system')),
	member_id        INTEGER REFERENCES members (id),
	created_by       INTEGER REFERENCES members (id),
	created_by_token INTEGER REFERENCES tokens (id),
	name             TEXT NOT NULL,
	name_key         TEXT NOT NULL DEFAULT '',
	-- Up to 500 characters: what the token is for, who to ask about it.
	description      TEXT NOT NULL DEFAULT '',
	digest           BLOB NOT NULL UNIQUE,
	last_four        TEXT NOT NULL,
	roles            TEXT NOT NULL DEFAULT '',
	-- Addresses and CIDR ranges the token may be used from, separated by
	-- spaces, normalized; empty: any address.
	allowed_ips      TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	expires_at       INTEGER,
	last_used_at     INTEGER,
	last_used_ip     TEXT,
	-- Rotation: the secret before the last rotation, which works until
	-- grace_until and is refused, and flagged when presented, after.
	prev_digest      BLOB UNIQUE,
	prev_last_four   TEXT,
	rotated_at       INTEGER,
	grace_until      INTEGER,
	old_secret_used_at INTEGER,
	old_secret_used_ip TEXT,
	-- A leak report that named this token's key.
	leaked_at        INTEGER,
	leak_url         TEXT,
	revoked_at       INTEGER,
	revoked_by       INTEGER REFERENCES members (id),
	revoked_by_token INTEGER REFERENCES tokens (id),
	revoke_reason    TEXT CHECK (revoke_reason IN ('revoked', 'member_left', 'leaked')),
	change_seq       INTEGER NOT NULL DEFAULT 0,
	CHECK ((kind = 'personal') = (member_id IS NOT NULL)),
	CHECK ((created_by IS NULL) != (created_by_token IS NULL)),
	CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);

INSERT INTO tokens_new (id, org_id, kind, member_id, created_by, created_by_token, name, name_key, digest, last_four, roles,
		created_at, expires_at, last_used_at, last_used_ip, revoked_at, revoked_by, revoked_by_token, revoke_reason, change_seq)
	SELECT id, org_id, kind, member_id, created_by, created_by_token, name, name_key, digest, last_four, roles,
		created_at, expires_at, last_used_at, last_used_ip, revoked_at, revoked_by, revoked_by_token, revoke_reason, change_seq
	FROM tokens;

DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

CREATE UNIQUE INDEX tokens_active_name ON tokens (org_id, kind, ifnull(member_id, 0), name_key)
	WHERE revoked_at IS NULL;
CREATE INDEX tokens_list ON tokens (org_id, kind, id);
CREATE INDEX tokens_member ON tokens (member_id, id);
CREATE INDEX tokens_change_seq ON tokens (change_seq);

-- Uses per token per UTC day (day: Unix seconds / 86400), written with the
-- last-use batch.
CREATE TABLE token_usage (
	token_id INTEGER NOT NULL REFERENCES tokens (id),
	day      INTEGER NOT NULL,
	uses     INTEGER NOT NULL,
	PRIMARY KEY (token_id, day)
) WITHOUT ROWID;

-- The client addresses a token was used from.
CREATE TABLE token_addresses (
	token_id   INTEGER NOT NULL REFERENCES tokens (id),
	addr       TEXT NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	uses       INTEGER NOT NULL,
	PRIMARY KEY (token_id, addr)
) WITHOUT ROWID;

CREATE INDEX token_addresses_last_seen ON token_addresses (last_seen);
