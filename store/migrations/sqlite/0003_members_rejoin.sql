-- A member who left can come back, as a new member: an email is unique only
-- among members who have not left, so the row of the member who left stays,
-- with its left_at and the tokens that record it, and a new row takes the
-- email. Emails are compared by their key (store.NameKey, computed here by
-- tokend_name_key), as names are: "José@x" and "JOSÉ@x" are one address,
-- which SQLite's NOCASE, folding ASCII only, did not see.
--
-- 0001 made email UNIQUE in the table itself, which only rebuilding the
-- table undoes (https://sqlite.org/lang_altertable.html#otheralter): the
-- store runs every migration with foreign keys off and checks them all
-- before it commits, since sessions and tokens refer to members.
--
-- Rows stored under the old rules may hold two members, both still in, whose
-- emails differ only in the case of a letter beyond ASCII. Both keep signing
-- in with the email they have: the oldest holds the key; each later one gets
-- the key, U+001F and its email in SQLite's lower() (ASCII only, as NOCASE
-- compared it), which the store also looks up, so its own spelling still
-- finds it and no one else can take the address.

CREATE TABLE members_new (
	id            INTEGER PRIMARY KEY,
	org_id        INTEGER NOT NULL REFERENCES orgs (id),
	email         TEXT NOT NULL,
	email_key     TEXT NOT NULL,
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	roles         TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	left_at       INTEGER,
	-- See change_seq in 0001.
	change_seq    INTEGER NOT NULL DEFAULT 0
);

INSERT INTO members_new (id, org_id, email, email_key, name, password_hash, roles, created_at, left_at, change_seq)
	SELECT id, org_id, email, tokend_name_key(email), name, password_hash, roles, created_at, left_at, change_seq
	FROM members;

UPDATE members_new SET email_key = email_key || char(31) || lower(email)
	WHERE left_at IS NULL AND EXISTS (
		SELECT 1 FROM members_new o
		WHERE o.left_at IS NULL AND o.id < members_new.id AND o.email_key = members_new.email_key);

DROP TABLE members;
ALTER TABLE members_new RENAME TO members;

CREATE INDEX members_change_seq ON members (change_seq);

-- Exactly one owner per organization among those who have not left.
CREATE UNIQUE INDEX members_one_owner ON members (org_id)
	WHERE instr(' ' || roles || ' ', ' owner ') > 0 AND left_at IS NULL;

-- One member per email among those who have not left; any number who left.
CREATE UNIQUE INDEX members_active_email ON members (email_key) WHERE left_at IS NULL;

-- Finding whoever had an email, in or gone.
CREATE INDEX members_email_key ON members (email_key);
