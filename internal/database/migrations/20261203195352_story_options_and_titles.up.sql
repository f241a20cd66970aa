-- modify "prompts" table
ALTER TABLE "prompts" ADD COLUMN "options" jsonb NOT NULL DEFAULT '{}';
-- modify "stories" table
ALTER TABLE "stories" ADD COLUMN "options" jsonb NOT NULL DEFAULT '{}', ADD COLUMN "title" character varying NULL;
