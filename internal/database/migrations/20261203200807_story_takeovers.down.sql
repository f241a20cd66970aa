-- reverse: modify "stories" table
ALTER TABLE "stories" DROP COLUMN "takeovers";
