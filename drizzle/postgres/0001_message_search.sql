-- Written by hand: drizzle-kit cannot declare extensions, text search configurations, functions or triggers.
-- The full-text index of messages, as drizzle/sqlite/0007_message_search.sql builds it for SQLite:
-- message_search_rows (made by 0000) holds one row per message that is not deleted, its audience in
-- `scope`, its words in `document` (GIN-indexed); triggers keep it in step with `messages` in the
-- statement that writes each message, so in the same transaction.
--
-- unaccent ships with PostgreSQL (contrib) and is a trusted extension: a role with CREATE on the
-- database may create it; without that right, a superuser runs this line once beforehand.
CREATE EXTENSION IF NOT EXISTS unaccent;
--> statement-breakpoint
-- How a text becomes words: `simple` (lower case; no stemming and no stop words, so a word of any
-- language is found as it is written), with accents removed first, so cafe finds CAFÉ, as SQLite's
-- unicode61 tokenizer with remove_diacritics 2 does. unaccent passes what it changed on to simple.
CREATE TEXT SEARCH CONFIGURATION natter_search (COPY = simple);
--> statement-breakpoint
ALTER TEXT SEARCH CONFIGURATION natter_search
  ALTER MAPPING FOR word, numword, hword, numhword, hword_part, hword_numpart WITH unaccent, simple;
--> statement-breakpoint
-- Characters of scripts written without spaces between words (Chinese, Japanese, Thai…) and Hangul
-- are indexed as words of their own, so a search finds a run of them anywhere in a message (a phrase
-- of consecutive characters), not only at its start: this puts a space on each side of each. The
-- same ranges as UNSPACED in src/server/search.ts.
CREATE FUNCTION natter_search_text(body text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT regexp_replace(body,
    '([\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u2fdf\u3005-\u3007\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f])',
    ' \1 ', 'g')
$$;
--> statement-breakpoint
-- A new message is indexed in the statement that stores it. The scope is its conversation's audience,
-- as events have it: `s:<server>` for a channel, `c:<conversation>` for a group or DM.
CREATE FUNCTION message_search_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO message_search_rows (message_id, scope, document)
    SELECT NEW.id, CASE c.kind WHEN 'channel' THEN 's:' || c.server_id ELSE 'c:' || c.id END,
           to_tsvector('natter_search', natter_search_text(NEW.body))
    FROM conversations c WHERE c.id = NEW.conversation_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER message_search_insert AFTER INSERT ON messages
  FOR EACH ROW WHEN (NEW.deleted_at IS NULL) EXECUTE FUNCTION message_search_insert();
--> statement-breakpoint
-- An edit replaces the indexed words (the old ones are no longer found); a deletion (the body
-- emptied, deleted_at set) removes the message from the index.
CREATE FUNCTION message_search_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.deleted_at IS NOT NULL THEN
    DELETE FROM message_search_rows WHERE message_id = OLD.id;
  ELSE
    UPDATE message_search_rows SET document = to_tsvector('natter_search', natter_search_text(NEW.body))
      WHERE message_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER message_search_update AFTER UPDATE OF body, deleted_at ON messages
  FOR EACH ROW EXECUTE FUNCTION message_search_update();
--> statement-breakpoint
-- Messages go with their conversation (a channel, a server, a group whose last member left):
-- their index rows go with them. A cascade fires this trigger too.
CREATE FUNCTION message_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM message_search_rows WHERE message_id = OLD.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER message_search_delete AFTER DELETE ON messages
  FOR EACH ROW EXECUTE FUNCTION message_search_delete();
