-- reverse: create index "story_status_lease_expires_at" to table: "stories"
DROP INDEX "story_status_lease_expires_at";
-- reverse: create index "story_prompt_id_created_at_id" to table: "stories"
DROP INDEX "story_prompt_id_created_at_id";
-- reverse: create index "story_created_at_id" to table: "stories"
DROP INDEX "story_created_at_id";
-- reverse: create "stories" table
DROP TABLE "stories";
-- reverse: create index "prompt_updated_at_id" to table: "prompts"
DROP INDEX "prompt_updated_at_id";
-- reverse: create index "prompt_created_at_id" to table: "prompts"
DROP INDEX "prompt_created_at_id";
-- reverse: create "prompts" table
DROP TABLE "prompts";
