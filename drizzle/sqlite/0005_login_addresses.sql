CREATE TABLE `login_addresses` (
	`user_id` text NOT NULL,
	`address` text NOT NULL,
	`last_at` integer NOT NULL,
	PRIMARY KEY(`user_id`, `address`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `login_addresses_last` ON `login_addresses` (`last_at`);--> statement-breakpoint
INSERT INTO `login_addresses` (`user_id`, `address`, `last_at`)
  SELECT `user_id`, `address`, max(coalesce(`last_seen_at`, `created_at`)) FROM `sessions`
  WHERE `address` IS NOT NULL GROUP BY `user_id`, `address`;
