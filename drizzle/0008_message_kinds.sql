ALTER TABLE `messages` ADD `kind` text DEFAULT 'text' NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `bot` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Written by hand: the message events kept for replay get the two fields every message now has,
-- as the messages they show were (text, not sent over a bot token).
UPDATE `events` SET `payload` = json_set(`payload`, '$.data.message.kind', 'text', '$.data.message.bot', json('false'))
  WHERE json_extract(`payload`, '$.event') IN ('message.created', 'message.updated', 'message.deleted');
