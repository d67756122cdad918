CREATE TABLE `message_search_rows` (
	`key` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`message_id` text NOT NULL,
	`scope` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_search_rows_message` ON `message_search_rows` (`message_id`);--> statement-breakpoint
-- Written by hand from here on: drizzle-kit cannot declare views, virtual tables or triggers.
-- What the full-text index reads a message back from (highlights): its text, and the
-- tokens that let a search keep to one conversation, one author or the caller's scopes.
-- Ids become hex, so each is one token that the tokenizer neither splits nor folds.
CREATE VIEW `message_search_content` AS
  SELECT r.`key` AS `key`, m.`body` AS `body`, hex(m.`conversation_id`) AS `conversation`,
         hex(m.`author_id`) AS `author`, hex(r.`scope`) AS `scope`
  FROM `message_search_rows` r JOIN `messages` m ON m.`id` = r.`message_id`;
--> statement-breakpoint
-- External content (the text stays in `messages` only), keyed on message_search_rows.key.
-- unicode61 remove_diacritics 2: case and accents do not matter (cafe finds CAFÉ).
-- prefix='3': an index of 3-character prefixes, so the typed last word of a query
-- (matched as a prefix) does not merge the entries of every word it begins.
-- columnsize=0: results are ordered by key, not ranked, so no per-row token counts.
CREATE VIRTUAL TABLE `message_search` USING fts5(
  `body`, `conversation`, `author`, `scope`,
  content='message_search_content', content_rowid='key',
  tokenize='unicode61 remove_diacritics 2', prefix='3', columnsize=0
);
--> statement-breakpoint
-- A new message is indexed in the statement that stores it.
CREATE TRIGGER `message_search_insert` AFTER INSERT ON `messages` WHEN new.`deleted_at` IS NULL BEGIN
  INSERT INTO `message_search_rows` (`message_id`, `scope`)
    SELECT new.`id`, CASE c.`kind` WHEN 'channel' THEN 's:' || c.`server_id` ELSE 'c:' || c.`id` END
    FROM `conversations` c WHERE c.`id` = new.`conversation_id`;
  INSERT INTO `message_search` (`rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT r.`key`, new.`body`, hex(new.`conversation_id`), hex(new.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = new.`id`;
END;
--> statement-breakpoint
-- An edit replaces the indexed text (the old words are no longer found); a deletion
-- (the body emptied, deleted_at set) removes the message from the index. An external
-- content index forgets an entry only when told the exact values it indexed: the old
-- body, and ids that never change for a message.
CREATE TRIGGER `message_search_update` AFTER UPDATE OF `body`, `deleted_at` ON `messages` BEGIN
  INSERT INTO `message_search` (`message_search`, `rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT 'delete', r.`key`, old.`body`, hex(old.`conversation_id`), hex(old.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = old.`id`;
  DELETE FROM `message_search_rows` WHERE `message_id` = old.`id` AND new.`deleted_at` IS NOT NULL;
  INSERT INTO `message_search` (`rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT r.`key`, new.`body`, hex(new.`conversation_id`), hex(new.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = new.`id` AND new.`deleted_at` IS NULL;
END;
--> statement-breakpoint
-- Messages go with their conversation (a channel, a server, a group whose last member
-- left): their index entries go with them. The scope comes from the row, since the
-- conversation may already be gone.
CREATE TRIGGER `message_search_delete` AFTER DELETE ON `messages` BEGIN
  INSERT INTO `message_search` (`message_search`, `rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT 'delete', r.`key`, old.`body`, hex(old.`conversation_id`), hex(old.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = old.`id`;
  DELETE FROM `message_search_rows` WHERE `message_id` = old.`id`;
END;
--> statement-breakpoint
-- Messages written before this migration: keys in the order they were sent, then the index.
INSERT INTO `message_search_rows` (`message_id`, `scope`)
  SELECT m.`id`, CASE c.`kind` WHEN 'channel' THEN 's:' || c.`server_id` ELSE 'c:' || c.`id` END
  FROM `messages` m JOIN `conversations` c ON c.`id` = m.`conversation_id`
  WHERE m.`deleted_at` IS NULL
  ORDER BY m.`created_at`, m.`conversation_id`, m.`seq`;
--> statement-breakpoint
INSERT INTO `message_search` (`message_search`) VALUES ('rebuild');
