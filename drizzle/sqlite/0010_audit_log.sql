CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text NOT NULL,
	`action` text NOT NULL,
	`actor_id` text,
	`target_user_id` text,
	`target_id` text,
	`reason` text,
	`details` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`server_id`) REFERENCES `servers`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`actor_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`target_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `audit_log_server` ON `audit_log` (`server_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_server_action` ON `audit_log` (`server_id`,`action`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_server_actor` ON `audit_log` (`server_id`,`actor_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_created` ON `audit_log` (`created_at`);