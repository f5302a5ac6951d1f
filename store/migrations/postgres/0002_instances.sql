-- The instances serving this database, so that a change can be
-- acknowledged only once every live instance has applied it: each instance
-- records the latest change number its cache reflects (heard_seq) and,
-- once a second, that it is alive (seen_at, by the database's clock, so
-- the machines' clocks do not matter).
CREATE TABLE instances (
	id        text PRIMARY KEY,
	heard_seq bigint NOT NULL,
	seen_at   timestamptz NOT NULL DEFAULT now()
);
