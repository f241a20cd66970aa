-- reverse: create index "usageday_user_id_day" to table: "usage_days"
DROP INDEX "usageday_user_id_day";
-- reverse: create "usage_days" table
DROP TABLE "usage_days";
-- reverse: create index "story_user_id_status" to table: "stories"
DROP INDEX "story_user_id_status";
-- reverse: create index "story_user_id_created_at_id" to table: "stories"
DROP INDEX "story_user_id_created_at_id";
-- reverse: create index "stories_share_token_key" to table: "stories"
DROP INDEX "stories_share_token_key";
-- reverse: modify "stories" table
ALTER TABLE "stories" DROP CONSTRAINT "stories_users_stories", DROP COLUMN "user_id", DROP COLUMN "reserved_tokens", DROP COLUMN "usage_day", DROP COLUMN "completion_tokens", DROP COLUMN "prompt_tokens", DROP COLUMN "share_token";
-- reverse: drop index "story_created_at_id" from table: "stories"
CREATE INDEX "story_created_at_id" ON "stories" ("created_at", "id");
-- reverse: create index "sessions_token_hash_key" to table: "sessions"
DROP INDEX "sessions_token_hash_key";
-- reverse: create index "session_user_id" to table: "sessions"
DROP INDEX "session_user_id";
-- reverse: create index "session_expires_at" to table: "sessions"
DROP INDEX "session_expires_at";
-- reverse: create "sessions" table
DROP TABLE "sessions";
-- reverse: create index "prompt_user_id_updated_at_id" to table: "prompts"
DROP INDEX "prompt_user_id_updated_at_id";
-- reverse: create index "prompt_user_id_created_at_id" to table: "prompts"
DROP INDEX "prompt_user_id_created_at_id";
-- reverse: modify "prompts" table
ALTER TABLE "prompts" DROP CONSTRAINT "prompts_users_prompts", DROP COLUMN "user_id";
-- reverse: drop index "prompt_updated_at_id" from table: "prompts"
CREATE INDEX "prompt_updated_at_id" ON "prompts" ("updated_at", "id");
-- reverse: drop index "prompt_created_at_id" from table: "prompts"
CREATE INDEX "prompt_created_at_id" ON "prompts" ("created_at", "id");
-- reverse: create index "apitoken_user_id_created_at" to table: "api_tokens"
DROP INDEX "apitoken_user_id_created_at";
-- reverse: create index "api_tokens_token_hash_key" to table: "api_tokens"
DROP INDEX "api_tokens_token_hash_key";
-- reverse: create "api_tokens" table
DROP TABLE "api_tokens";
-- reverse: create index "users_email_key" to table: "users"
DROP INDEX "users_email_key";
-- reverse: create index "user_oidc_issuer_oidc_subject" to table: "users"
DROP INDEX "user_oidc_issuer_oidc_subject";
-- reverse: create "users" table
DROP TABLE "users";
