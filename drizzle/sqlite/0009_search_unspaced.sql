ALTER TABLE `messages` ADD `search_text` text;--> statement-breakpoint
-- Written by hand from here on. Characters of scripts written without spaces between words
-- (Chinese, Japanese, Thai…) and Hangul are indexed as words of their own, so a search finds a run
-- of them anywhere in a message, not only at its start. The server writes that spaced text in
-- search_text (src/server/search.ts; null when it is the body, and filled in at start for the
-- messages stored before this migration); the index reads coalesce(search_text, body).
DROP TRIGGER `message_search_insert`;--> statement-breakpoint
DROP TRIGGER `message_search_update`;--> statement-breakpoint
DROP TRIGGER `message_search_delete`;--> statement-breakpoint
-- FTS5 keeps the old view's name for itself once the index exists: the index is made again over a
-- view of a new name (and rebuilt below).
DROP TABLE `message_search`;--> statement-breakpoint
DROP VIEW `message_search_content`;--> statement-breakpoint
CREATE VIEW `message_search_text` AS
  SELECT r.`key` AS `key`, coalesce(m.`search_text`, m.`body`) AS `body`, hex(m.`conversation_id`) AS `conversation`,
         hex(m.`author_id`) AS `author`, hex(r.`scope`) AS `scope`
  FROM `message_search_rows` r JOIN `messages` m ON m.`id` = r.`message_id`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `message_search` USING fts5(
  `body`, `conversation`, `author`, `scope`,
  content='message_search_text', content_rowid='key',
  tokenize='unicode61 remove_diacritics 2', prefix='3', columnsize=0
);
--> statement-breakpoint
CREATE TRIGGER `message_search_insert` AFTER INSERT ON `messages` WHEN new.`deleted_at` IS NULL BEGIN
  INSERT INTO `message_search_rows` (`message_id`, `scope`)
    SELECT new.`id`, CASE c.`kind` WHEN 'channel' THEN 's:' || c.`server_id` ELSE 'c:' || c.`id` END
    FROM `conversations` c WHERE c.`id` = new.`conversation_id`;
  INSERT INTO `message_search` (`rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT r.`key`, coalesce(new.`search_text`, new.`body`), hex(new.`conversation_id`), hex(new.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = new.`id`;
END;
--> statement-breakpoint
CREATE TRIGGER `message_search_update` AFTER UPDATE OF `body`, `search_text`, `deleted_at` ON `messages` BEGIN
  INSERT INTO `message_search` (`message_search`, `rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT 'delete', r.`key`, coalesce(old.`search_text`, old.`body`), hex(old.`conversation_id`), hex(old.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = old.`id`;
  DELETE FROM `message_search_rows` WHERE `message_id` = old.`id` AND new.`deleted_at` IS NOT NULL;
  INSERT INTO `message_search` (`rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT r.`key`, coalesce(new.`search_text`, new.`body`), hex(new.`conversation_id`), hex(new.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = new.`id` AND new.`deleted_at` IS NULL;
END;
--> statement-breakpoint
CREATE TRIGGER `message_search_delete` AFTER DELETE ON `messages` BEGIN
  INSERT INTO `message_search` (`message_search`, `rowid`, `body`, `conversation`, `author`, `scope`)
    SELECT 'delete', r.`key`, coalesce(old.`search_text`, old.`body`), hex(old.`conversation_id`), hex(old.`author_id`), hex(r.`scope`)
    FROM `message_search_rows` r WHERE r.`message_id` = old.`id`;
  DELETE FROM `message_search_rows` WHERE `message_id` = old.`id`;
END;
--> statement-breakpoint
INSERT INTO `message_search` (`message_search`) VALUES ('rebuild');
