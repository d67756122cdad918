ALTER TABLE `conversation_members` ADD `since_event` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `members` ADD `since_event` integer DEFAULT 0 NOT NULL;