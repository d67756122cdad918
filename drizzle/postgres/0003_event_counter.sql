CREATE TABLE "event_counter" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"last" bigint NOT NULL,
	CONSTRAINT "event_counter_one_row" CHECK ("event_counter"."id" = 1)
);
--> statement-breakpoint
-- Written by hand: the counter starts where the identity sequence of events.id stopped (the ids it
-- gave out may have been pruned since), before that sequence goes with the identity below.
INSERT INTO "event_counter" ("id", "last")
  SELECT 1, greatest(coalesce(max(e."id"), 0),
                     (SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM "events_id_seq" s))
  FROM "events" e;
--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "id" DROP IDENTITY;
