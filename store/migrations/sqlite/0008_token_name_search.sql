-- Issue 11: a name search that reads only the tokens whose names hold what
-- is searched for, instead of every token of the list (web's
-- BenchmarkTokenFilters: a search for a name no system token has read all
-- 50,000 of them).
--
-- Each kind has an index of the name keys (store.NameKey) of its tokens, in
-- every run of three characters (FTS5's trigram tokenizer, case folded:
-- what LIKE matches, it holds, and more). The store asks it for a search of
-- three characters or more, while it holds few enough of them to be worth
-- it, and compares the names with LIKE all the same (store's nameIndex); an
-- index per kind, so that a name common in one kind costs nothing in a
-- search of the other.
--
-- The indexes hold no text of their own (content=''), only the rowid of the
-- token, which the triggers below keep in step with tokens. A migration that
-- rebuilds tokens drops these triggers with it and must make them again.

CREATE VIRTUAL TABLE tokens_names_personal USING fts5 (name_key, content = '', contentless_delete = 1, tokenize = 'trigram');
CREATE VIRTUAL TABLE tokens_names_system USING fts5 (name_key, content = '', contentless_delete = 1, tokenize = 'trigram');

INSERT INTO tokens_names_personal (rowid, name_key) SELECT id, name_key FROM tokens WHERE kind = 'personal';
INSERT INTO tokens_names_system (rowid, name_key) SELECT id, name_key FROM tokens WHERE kind = 'system';

CREATE TRIGGER tokens_names_insert AFTER INSERT ON tokens BEGIN
	INSERT INTO tokens_names_personal (rowid, name_key) SELECT new.id, new.name_key WHERE new.kind = 'personal';
	INSERT INTO tokens_names_system (rowid, name_key) SELECT new.id, new.name_key WHERE new.kind = 'system';
END;

-- A rename (store's UpdateToken), or anything else that moves a key.
CREATE TRIGGER tokens_names_update AFTER UPDATE OF id, kind, name_key ON tokens BEGIN
	DELETE FROM tokens_names_personal WHERE rowid = old.id;
	DELETE FROM tokens_names_system WHERE rowid = old.id;
	INSERT INTO tokens_names_personal (rowid, name_key) SELECT new.id, new.name_key WHERE new.kind = 'personal';
	INSERT INTO tokens_names_system (rowid, name_key) SELECT new.id, new.name_key WHERE new.kind = 'system';
END;

-- Tokens are kept for the record, but a tool or a test may delete one.
CREATE TRIGGER tokens_names_delete AFTER DELETE ON tokens BEGIN
	DELETE FROM tokens_names_personal WHERE rowid = old.id;
	DELETE FROM tokens_names_system WHERE rowid = old.id;
END;
