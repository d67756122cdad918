ALTER TABLE `messages` ADD `kind` text DEFAULT 'text' NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `bot` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Written by hand: the message events kept for replay get the two fields every message now has,
-- as the messages they show were (text, not sent over a bot token).
UPDATE `events` SET `payload` = json_set(`payload`, '$.data.message.kind', 'text', '$.data.message.bot', json('false'))
  WHERE json_extract(`payload`, '$.event') IN ('message.created', 'message.updated', 'message.deleted');--> statement-breakpoint
-- Before kinds, the terminal app sent `/me waves` as the text "/me waves" and showed it as an action:
-- those messages (and their kept events) become the actions they were meant as.
UPDATE `messages` SET `kind` = 'action', `body` = substr(`body`, 5)
  WHERE substr(`body`, 1, 4) = '/me ' AND trim(substr(`body`, 5)) <> '' AND `deleted_at` IS NULL;--> statement-breakpoint
UPDATE `events` SET `payload` = json_set(`payload`, '$.data.message.kind', 'action',
    '$.data.message.body', substr(json_extract(`payload`, '$.data.message.body'), 5))
  WHERE json_extract(`payload`, '$.event') IN ('message.created', 'message.updated')
    AND substr(json_extract(`payload`, '$.data.message.body'), 1, 4) = '/me '
    AND trim(substr(json_extract(`payload`, '$.data.message.body'), 5)) <> '';
