-- Issue 11 (SQLite's 0007): the Token Management page's search, filters,
-- counts and expiry warnings at 100,000 tokens in one organization (web's
-- BenchmarkTokenFilters). SQLite's tokens_filter is left out: with
-- statistics the planner counts and searches a kind's tokens with a
-- sequential scan, which an index of every column would only make dearer
-- to write. A name search that needs no scan takes pg_trgm (not here: an
-- extension is the database's, not the schema's).

-- A member's personal tokens (My Tokens, the member filter), newest first.
CREATE INDEX tokens_org_member ON tokens (org_id, kind, member_id, revoked_at, id, expires_at, last_used_at, name_key);

-- "N tokens expire within 7 days": a range of a few entries, not a scan.
CREATE INDEX tokens_expiring ON tokens (org_id, expires_at) WHERE revoked_at IS NULL;

-- Each member's working tokens (the member filter's choices, the Members
-- page).
CREATE INDEX tokens_member_active ON tokens (member_id, revoked_at, expires_at);
