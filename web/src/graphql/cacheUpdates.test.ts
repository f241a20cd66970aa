import { describe, expect, it } from 'vitest';
import { connection, nodeAs, prompt, story } from '../test/harness';
import { createCache } from './client';
import { removeStory } from './cacheUpdates';
import { PAGE_SIZE, PROMPTS, PROMPT_WITH_STORIES, STORY } from './operations';

function summary(s: ReturnType<typeof story>) {
  const { error: _e, startedAt: _s, shareToken: _t, prompt: _p, ...rest } = s;
  return rest;
}

describe('removeStory', () => {
  it('takes a story out of its prompt\'s list and counts, and out of the cache', () => {
    const cache = createCache();
    const a = story('s-1', 'p-1', { status: 'COMPLETED', text: 'First' });
    const b = story('s-2', 'p-1', { status: 'COMPLETED', text: 'Second' });
    cache.writeQuery({
      query: PROMPTS,
      variables: { first: PAGE_SIZE },
      data: { prompts: connection('Prompt', [prompt('p-1', 'Dragons', undefined, 5), prompt('p-2', 'Bakeries', undefined, 1)]) as never },
    });
    cache.writeQuery({
      query: PROMPT_WITH_STORIES,
      variables: { id: 'p-1', first: PAGE_SIZE },
      // Two of its five stories are loaded.
      data: { node: { ...prompt('p-1', 'Dragons', undefined, 5), stories: connection('Story', [summary(a), summary(b)], true, 5) } as never },
    });
    cache.writeQuery({ query: STORY, variables: { id: 's-2' }, data: { node: b as never } });

    removeStory(cache, 's-2');

    const detail = cache.readQuery({ query: PROMPT_WITH_STORIES, variables: { id: 'p-1', first: PAGE_SIZE } });
    expect(nodeAs(detail?.node, 'Prompt').stories.edges?.map((e) => e?.node?.id)).toEqual(['s-1']);
    expect(nodeAs(detail?.node, 'Prompt').stories.totalCount).toBe(4);
    const list = cache.readQuery({ query: PROMPTS, variables: { first: PAGE_SIZE } });
    expect(list?.prompts.edges?.map((e) => e?.node?.storyCount.totalCount)).toEqual([4, 1]);
    expect((cache.extract() as Record<string, unknown>)['Story:s-2']).toBeUndefined();
  });

  it('finds the prompt of a story the cache holds only in a list', () => {
    const cache = createCache();
    const a = story('s-1', 'p-1', { status: 'COMPLETED', text: 'First' });
    cache.writeQuery({
      query: PROMPT_WITH_STORIES,
      variables: { id: 'p-1', first: PAGE_SIZE },
      data: { node: { ...prompt('p-1', 'Dragons', undefined, 1), stories: connection('Story', [summary(a)]) } as never },
    });
    removeStory(cache, 's-1');
    const detail = cache.readQuery({ query: PROMPT_WITH_STORIES, variables: { id: 'p-1', first: PAGE_SIZE } });
    const cached = nodeAs(detail?.node, 'Prompt');
    expect(cached.stories.edges).toEqual([]);
    expect(cached.stories.totalCount).toBe(0);
    expect(cached.storyCount.totalCount).toBe(0);
  });
});
