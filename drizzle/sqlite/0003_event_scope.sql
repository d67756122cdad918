ALTER TABLE `events` ADD `scope` text;--> statement-breakpoint
UPDATE `events` SET `scope` = (SELECT `s`.`scope` FROM `event_scopes` `s` WHERE `s`.`event_id` = `events`.`id`)
  WHERE (SELECT count(*) FROM `event_scopes` `s` WHERE `s`.`event_id` = `events`.`id`) = 1;--> statement-breakpoint
DELETE FROM `event_scopes` WHERE `event_id` IN (SELECT `id` FROM `events` WHERE `scope` IS NOT NULL);--> statement-breakpoint
CREATE INDEX `events_scope` ON `events` (`scope`);
