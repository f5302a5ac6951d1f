-- A token's life (issue 10; SQLite's 0006): a description, an address
-- allow-list, rotation with a grace period, leak reports, and its use per
-- day and per client address.

ALTER TABLE tokens
	-- Up to 500 characters: what the token is for, who to ask about it.
	ADD COLUMN description text NOT NULL DEFAULT '',
	-- Addresses and CIDR ranges the token may be used from, separated by
	-- spaces, normalized; empty: any address.
	ADD COLUMN allowed_ips text NOT NULL DEFAULT '',
	-- Rotation: the secret before the last rotation, which works until
	-- grace_until and is refused, and flagged when presented, after.
	ADD COLUMN prev_digest bytea CONSTRAINT tokens_prev_digest_key UNIQUE,
	ADD COLUMN prev_last_four text,
	ADD COLUMN rotated_at bigint,
	ADD COLUMN grace_until bigint,
	ADD COLUMN old_secret_used_at bigint,
	ADD COLUMN old_secret_used_ip text,
	-- A leak report that named this token's key.
	ADD COLUMN leaked_at bigint,
	ADD COLUMN leak_url text;

ALTER TABLE tokens DROP CONSTRAINT tokens_revoke_reason_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_revoke_reason_check CHECK (revoke_reason IN ('revoked', 'member_left', 'leaked'));

-- Uses per token per UTC day (day: Unix seconds / 86400), written with the
-- last-use batch.
CREATE TABLE token_usage (
	token_id bigint NOT NULL REFERENCES tokens (id),
	day      bigint NOT NULL,
	uses     bigint NOT NULL,
	PRIMARY KEY (token_id, day)
);

-- The client addresses a token was used from.
CREATE TABLE token_addresses (
	token_id   bigint NOT NULL REFERENCES tokens (id),
	addr       text NOT NULL,
	first_seen bigint NOT NULL,
	last_seen  bigint NOT NULL,
	uses       bigint NOT NULL,
	PRIMARY KEY (token_id, addr)
);

CREATE INDEX token_addresses_last_seen ON token_addresses (last_seen);
