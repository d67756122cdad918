ALTER TABLE `username_holds` ADD `username_capital_key` text;--> statement-breakpoint
CREATE INDEX `username_holds_user` ON `username_holds` (`user_id`);--> statement-breakpoint
CREATE INDEX `username_holds_capital_key` ON `username_holds` (`username_capital_key`);--> statement-breakpoint
ALTER TABLE `users` ADD `username_capital_key` text;--> statement-breakpoint
CREATE INDEX `users_username_capital_key` ON `users` (`username_capital_key`);