-- reverse: modify "stories" table
ALTER TABLE "stories" DROP COLUMN "title", DROP COLUMN "options";
-- reverse: modify "prompts" table
ALTER TABLE "prompts" DROP COLUMN "options";
