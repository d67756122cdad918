-- UNLOGGED, written by hand (drizzle has no word for it): the buckets are written on every request
-- and need no WAL; a crash of PostgreSQL empties the table, which only refills every bucket.
CREATE UNLOGGED TABLE "rate_buckets" (
	"key" text PRIMARY KEY NOT NULL,
	"tokens" double precision NOT NULL,
	"at" bigint NOT NULL,
	"wait" bigint NOT NULL
);
