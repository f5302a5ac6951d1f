-- Issue 11: the Token Management page's search, filters, counts and expiry
-- warnings at 100,000 tokens in one organization (web's
-- BenchmarkTokenFilters). Without these, every list and count reads each
-- token row of its kind through tokens_list.

-- A member's personal tokens (My Tokens, the member filter): with four
-- terms of equality and every column the filters look at, the planner
-- prefers it to tokens_filter, and reads a few hundred entries instead of
-- every personal token, newest first.
CREATE INDEX tokens_org_member ON tokens (org_id, kind, member_id, revoked_at, id, expires_at, last_used_at, name_key);

-- The lists and their counts: every column the filters look at, so a count
-- reads the index alone (a tenth of the bytes of the rows), and a list
-- walks it newest first and reads only the rows it shows.
CREATE INDEX tokens_filter ON tokens (org_id, kind, revoked_at, id, expires_at, last_used_at, member_id, name_key);

-- "N tokens expire within 7 days": a range of a few entries, not a scan.
CREATE INDEX tokens_expiring ON tokens (org_id, expires_at) WHERE revoked_at IS NULL;

-- Each member's working tokens (the member filter's choices, the Members
-- page), counted from the index alone.
CREATE INDEX tokens_member_active ON tokens (member_id, revoked_at, expires_at);
