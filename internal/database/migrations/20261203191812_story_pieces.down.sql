-- fold running stories' pieces back into their text before the pieces go
UPDATE "stories" SET "text" = "text" || (SELECT string_agg(p."text", '' ORDER BY p."start") FROM "story_pieces" p WHERE p."story_id" = "stories"."id") WHERE EXISTS (SELECT 1 FROM "story_pieces" p WHERE p."story_id" = "stories"."id");
-- reverse: create index "storypiece_story_id_start" to table: "story_pieces"
DROP INDEX "storypiece_story_id_start";
-- reverse: create "story_pieces" table
DROP TABLE "story_pieces";
-- reverse: modify "stories" table
ALTER TABLE "stories" DROP COLUMN "text_length";
