-- create "prompts" table
CREATE TABLE "prompts" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "content" text NOT NULL, PRIMARY KEY ("id"));
-- create index "prompt_created_at_id" to table: "prompts"
CREATE INDEX "prompt_created_at_id" ON "prompts" ("created_at", "id");
-- create index "prompt_updated_at_id" to table: "prompts"
CREATE INDEX "prompt_updated_at_id" ON "prompts" ("updated_at", "id");
-- create "stories" table
CREATE TABLE "stories" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'PENDING', "text" text NOT NULL DEFAULT '', "token_count" bigint NOT NULL DEFAULT 0, "model" character varying NOT NULL DEFAULT '', "error" text NULL, "max_tokens" bigint NOT NULL, "temperature" double precision NULL, "seed" bigint NOT NULL DEFAULT 0, "trace_id" character varying NOT NULL DEFAULT '', "lease_owner" character varying NULL, "lease_expires_at" timestamptz NULL, "started_at" timestamptz NULL, "finished_at" timestamptz NULL, "prompt_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "stories_prompts_stories" FOREIGN KEY ("prompt_id") REFERENCES "prompts" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "story_created_at_id" to table: "stories"
CREATE INDEX "story_created_at_id" ON "stories" ("created_at", "id");
-- create index "story_prompt_id_created_at_id" to table: "stories"
CREATE INDEX "story_prompt_id_created_at_id" ON "stories" ("prompt_id", "created_at", "id");
-- create index "story_status_lease_expires_at" to table: "stories"
CREATE INDEX "story_status_lease_expires_at" ON "stories" ("status", "lease_expires_at");
