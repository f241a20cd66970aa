-- modify "stories" table
ALTER TABLE "stories" ADD COLUMN "takeovers" bigint NOT NULL DEFAULT 0;
