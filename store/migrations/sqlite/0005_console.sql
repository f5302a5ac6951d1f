-- The owner's console: members searched by name, their last sign-in,
-- invitations, and the audit log with its retention.

-- Members are searched by name as names are compared (store.NameKey).
ALTER TABLE members ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE members SET name_key = tokend_name_key(name);
ALTER TABLE members ADD COLUMN last_sign_in_at INTEGER;

-- How long the organization keeps its audit events, in days; NULL: forever.
ALTER TABLE orgs ADD COLUMN audit_retention_days INTEGER DEFAULT 365 CHECK (audit_retention_days > 0);

-- An invitation to join an organization: a link shown once to the owner
-- who made it. Only the digest of its code is kept, as with tokens.
CREATE TABLE invitations (
	id           INTEGER PRIMARY KEY,
	org_id       INTEGER NOT NULL REFERENCES orgs (id),
	email        TEXT NOT NULL,
	email_key    TEXT NOT NULL,
	name         TEXT NOT NULL,
	roles        TEXT NOT NULL,
	digest       BLOB NOT NULL UNIQUE,
	invited_by   INTEGER NOT NULL REFERENCES members (id),
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	-- At most one of these is set: accepted (and by which new member), or
	-- withdrawn (and by whom).
	accepted_at  INTEGER,
	member_id    INTEGER REFERENCES members (id),
	withdrawn_at INTEGER,
	withdrawn_by INTEGER REFERENCES members (id),
	CHECK (accepted_at IS NULL OR withdrawn_at IS NULL)
);

CREATE INDEX invitations_org ON invitations (org_id, id);

-- What happened to an organization's tokens, members and settings: written
-- in the transaction of the change it records, never updated, deleted only
-- past the organization's retention. Labels are as things were named when
-- it happened; details are a JSON object. Never a secret.
CREATE TABLE audit_events (
	id               INTEGER PRIMARY KEY,
	org_id           INTEGER NOT NULL REFERENCES orgs (id),
	at               INTEGER NOT NULL,
	action           TEXT NOT NULL,
	-- member (on the page), token (on the API or presented), cli (the command
	-- line), anonymous (not signed in: a failed sign-in).
	actor_kind       TEXT NOT NULL CHECK (actor_kind IN ('member', 'token', 'cli', 'anonymous')),
	actor_member_id  INTEGER REFERENCES members (id),
	actor_token_id   INTEGER REFERENCES tokens (id),
	actor_label      TEXT NOT NULL,
	target_kind      TEXT NOT NULL CHECK (target_kind IN ('token', 'member', 'invitation', 'org')),
	target_token_id  INTEGER REFERENCES tokens (id),
	target_member_id INTEGER REFERENCES members (id),
	target_label     TEXT NOT NULL,
	client_ip        TEXT NOT NULL DEFAULT '',
	user_agent       TEXT NOT NULL DEFAULT '',
	details          TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_org ON audit_events (org_id, id);
CREATE INDEX audit_events_org_action ON audit_events (org_id, action, id);
CREATE INDEX audit_events_target_token ON audit_events (target_token_id, id);
CREATE INDEX audit_events_actor_token ON audit_events (actor_token_id, id);
CREATE INDEX audit_events_target_member ON audit_events (target_member_id, id);
CREATE INDEX audit_events_actor_member ON audit_events (actor_member_id, id);
CREATE INDEX audit_events_at ON audit_events (at);
