CREATE TABLE `attachments` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_id` text NOT NULL,
	`purpose` text NOT NULL,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`type` text NOT NULL,
	`token_hash` text,
	`upload_by` integer NOT NULL,
	`sha256` text,
	`thumb_sha256` text,
	`width` integer,
	`height` integer,
	`duration_ms` integer,
	`created_at` integer NOT NULL,
	`uploaded_at` integer,
	`expires_at` integer,
	`message_id` text,
	`conversation_id` text,
	`server_id` text,
	`position` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`server_id`) REFERENCES `servers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `attachments_message` ON `attachments` (`message_id`,`position`);--> statement-breakpoint
CREATE INDEX `attachments_owner` ON `attachments` (`owner_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `attachments_server` ON `attachments` (`server_id`,`size`);--> statement-breakpoint
CREATE INDEX `attachments_expires` ON `attachments` (`expires_at`);--> statement-breakpoint
CREATE INDEX `attachments_sha256` ON `attachments` (`sha256`);--> statement-breakpoint
CREATE INDEX `attachments_thumb` ON `attachments` (`thumb_sha256`);--> statement-breakpoint
CREATE TABLE `upload_usage` (
	`user_id` text NOT NULL,
	`day` integer NOT NULL,
	`bytes` integer NOT NULL,
	PRIMARY KEY(`user_id`, `day`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `held_messages` ADD `attachments` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `servers` ADD `icon_id` text;--> statement-breakpoint
ALTER TABLE `users` ADD `avatar_id` text;