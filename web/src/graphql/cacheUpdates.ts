import type { ApolloCache, Reference } from '@apollo/client';
import type { Modifier, ModifierDetails } from '@apollo/client/cache';
import { graphql } from './generated';
import { PROMPT_FIELDS, STORY_SUMMARY_FIELDS, type Prompt, type Story, type StoryEvent } from './operations';

// These helpers keep Apollo's normalized cache in step with each mutation and stream event,
// so that nothing has to be refetched. Connections are stored by relayStylePagination as
// { edges: [{ cursor, node: Reference }], pageInfo, totalCount }.

interface StoredEdge {
  __typename?: string;
  cursor: string;
  node?: Reference;
}

interface StoredConnection {
  edges: StoredEdge[];
  pageInfo: unknown;
  totalCount?: number;
}

function isConnection(value: unknown): value is StoredConnection {
  return typeof value === 'object' && value !== null && Array.isArray((value as StoredConnection).edges);
}

// Wraps a change to a stored connection as a cache.modify modifier.
function onConnection(change: (existing: StoredConnection, details: ModifierDetails) => StoredConnection): Modifier<unknown> {
  return (value, details) => (isConnection(value) ? change(value, details) : value);
}

// Only an unfiltered list gains a new item: a filtered one may not match it.
function isUnfiltered(storeFieldName: string, fieldName: string): boolean {
  if (storeFieldName === fieldName) return true;
  const args = storeFieldName.slice(fieldName.length).replace(/^[:(]/, '').replace(/\)$/, '');
  try {
    const parsed: unknown = JSON.parse(args);
    return typeof parsed === 'object' && parsed !== null && !('where' in parsed);
  } catch {
    return false;
  }
}

function prepend(existing: StoredConnection, edge: StoredEdge, readField: (f: string, r: Reference) => unknown): StoredConnection {
  const id = edge.node ? readField('id', edge.node) : undefined;
  if (existing.edges.some((e) => e.node && readField('id', e.node) === id)) return existing;
  return {
    ...existing,
    edges: [edge, ...existing.edges],
    totalCount: (existing.totalCount ?? existing.edges.length) + 1,
  };
}

/** Puts a newly created prompt at the top of every unfiltered prompt list. */
export function addPrompt(cache: ApolloCache, prompt: Prompt): void {
  const ref = cache.writeFragment({ data: prompt, fragment: PROMPT_FIELDS, fragmentName: 'PromptFields' });
  if (!ref) return;
  cache.modify({
    fields: {
      prompts: onConnection((existing, { storeFieldName, fieldName, readField }) =>
        isUnfiltered(storeFieldName, fieldName)
          ? prepend(existing, { __typename: 'PromptEdge', cursor: '', node: ref }, readField)
          : existing,
      ),
    },
  });
}

function withoutNode(existing: StoredConnection, id: string, readField: (f: string, r: Reference) => unknown): StoredConnection {
  const edges = existing.edges.filter((e) => !e.node || readField('id', e.node) !== id);
  if (edges.length === existing.edges.length) return existing;
  const removed = existing.edges.length - edges.length;
  return { ...existing, edges, totalCount: Math.max(0, (existing.totalCount ?? existing.edges.length) - removed) };
}

/** Removes a deleted prompt and its stories from the cache and from every list holding them. */
export function removePrompt(cache: ApolloCache, id: string): void {
  const promptRef = cache.identify({ __typename: 'Prompt', id });
  if (!promptRef) return;
  const storyIds: string[] = [];
  cache.modify({
    id: promptRef,
    fields: {
      stories: onConnection((existing, { readField }) => {
        for (const edge of existing.edges) {
          const storyId = edge.node ? readField<string>('id', edge.node) : undefined;
          if (storyId) storyIds.push(storyId);
        }
        return existing;
      }),
    },
  });
  cache.modify({
    fields: {
      prompts: onConnection((existing, { readField }) => withoutNode(existing, id, readField)),
      stories: onConnection((existing, { readField }) =>
        storyIds.reduce((connection, storyId) => withoutNode(connection, storyId, readField), existing),
      ),
    },
  });
  for (const storyId of storyIds) cache.evict({ id: cache.identify({ __typename: 'Story', id: storyId }) });
  cache.evict({ id: promptRef });
  cache.gc();
}

const STORY_PROMPT_ID = graphql(`
  fragment StoryPromptId on Story {
    prompt {
      id
    }
  }
`);

/**
 * Removes a story that is gone (deleted, or NOT_FOUND for this user) from the cache and from
 * every list holding it; its prompt's story counts drop by one, loaded page or not.
 */
export function removeStory(cache: ApolloCache, id: string): void {
  const storyRef = cache.identify({ __typename: 'Story', id });
  if (!storyRef) return;
  const drop = onConnection((existing, { readField }) => withoutNode(existing, id, readField));

  // The prompt it belongs to: from the cached story, or else from a list that holds it.
  const promptKeys = Object.keys(cache.extract() as Record<string, unknown>).filter((key) => key.startsWith('Prompt:'));
  const promptOf = cache.readFragment({
    id: storyRef,
    fragment: STORY_PROMPT_ID,
  })?.prompt?.id;
  let owner = promptOf ? cache.identify({ __typename: 'Prompt', id: promptOf }) : undefined;
  for (const key of promptKeys) {
    if (owner) break;
    cache.modify({
      id: key,
      fields: {
        stories: onConnection((existing, { readField }) => {
          if (existing.edges.some((e) => e.node && readField('id', e.node) === id)) owner = key;
          return existing;
        }),
      },
    });
  }

  if (owner) {
    cache.modify({
      id: owner,
      fields: {
        stories: onConnection((existing, { readField, storeFieldName, fieldName }) => {
          const without = withoutNode(existing, id, readField);
          if (without !== existing || !isUnfiltered(storeFieldName, fieldName)) return without;
          // A list whose loaded pages do not hold the story still counted it.
          return { ...existing, totalCount: Math.max(0, (existing.totalCount ?? existing.edges.length) - 1) };
        }),
      },
    });
  }
  cache.modify({ fields: { stories: drop } });
  cache.evict({ id: storyRef });
  cache.gc();
}

/** Puts a story that was just started at the top of its prompt's story list. */
export function addStory(cache: ApolloCache, story: Story): void {
  const ref = cache.writeFragment({ data: story, fragment: STORY_SUMMARY_FIELDS });
  const promptRef = cache.identify({ __typename: 'Prompt', id: story.prompt.id });
  if (!ref || !promptRef) return;
  cache.modify({
    id: promptRef,
    fields: {
      stories: onConnection((existing, { readField }) =>
        prepend(existing, { __typename: 'StoryEdge', cursor: '', node: ref }, readField),
      ),
    },
  });
}

/**
 * Copies a stream event into the cache: the story's status, token count and error, and its text
 * so far (the concatenated deltas), so that every component showing the story follows it.
 */
export function applyStreamEvent(cache: ApolloCache, event: StoryEvent, textSoFar: string): void {
  const id = cache.identify({ __typename: 'Story', id: event.storyID });
  if (!id) return;
  cache.modify({
    id,
    fields: {
      status: () => event.status,
      tokenCount: () => event.tokenCount,
      error: (existing) => event.error ?? existing,
      text: () => textSoFar,
    },
  });
}

/**
 * Puts a story that continueStory just reopened back to its new status (PENDING or GENERATING),
 * without its end. The cache otherwise keeps a finished story finished (a late answer must not
 * undo an end the stream showed); a continuation is the one way back, and its text, kept as it
 * was, then grows again as its stream is followed.
 */
export function reopenStory(cache: ApolloCache, story: Pick<Story, 'id' | 'status'>): void {
  const id = cache.identify({ __typename: 'Story', id: story.id });
  if (!id) return;
  cache.modify({
    id,
    fields: {
      status: () => story.status,
      error: () => null,
      finishedAt: () => null,
    },
  });
}
