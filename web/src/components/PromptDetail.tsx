import { useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { addStory } from '../graphql/cacheUpdates';
import { GENERATE_STORY, PAGE_SIZE, PROMPT_WITH_STORIES, nodesOf, type StorySummary } from '../graphql/operations';
import { describeError } from '../lib/errors';
import { useToast } from '../toast/toast';
import { StoryList } from './StoryList';
import { StoryViewer } from './StoryViewer';

/** Props of PromptDetail. */
export interface PromptDetailProps {
  promptId: string;
  storyId: string | null;
  onSelectStory(storyId: string): void;
}

function newestFirst(a: StorySummary, b: StorySummary): number {
  return b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);
}

/** The open prompt: its text, the Generate button, the open story and the prompt's earlier stories. */
export function PromptDetail({ promptId, storyId, onSelectStory }: PromptDetailProps) {
  const toast = useToast();
  const [loadingMore, setLoadingMore] = useState(false);
  const { data, loading, error, fetchMore } = useQuery(PROMPT_WITH_STORIES, {
    variables: { id: promptId, first: PAGE_SIZE },
    fetchPolicy: 'cache-and-network',
  });
  const [generateStory, { loading: starting }] = useMutation(GENERATE_STORY, {
    update(cache, { data: result }) {
      if (result) addStory(cache, result.generateStory);
    },
  });

  const prompt = data?.node?.__typename === 'Prompt' ? data.node : null;

  async function generate() {
    if (starting) return;
    try {
      const { data: result } = await generateStory({ variables: { promptID: promptId } });
      if (result) onSelectStory(result.generateStory.id);
    } catch (err) {
      toast.error('Could not start a story', err);
    }
  }

  async function loadMore() {
    const after = prompt?.stories.pageInfo.endCursor;
    if (loadingMore || !after) return;
    setLoadingMore(true);
    try {
      await fetchMore({ variables: { after } });
    } catch (err) {
      toast.error('Could not load more stories', err);
    } finally {
      setLoadingMore(false);
    }
  }

  if (!prompt) {
    if (loading) {
      return (
        <p className="muted" role="status">
          Loading prompt…
        </p>
      );
    }
    return (
      <p className="inline-error" role="alert">
        {error ? `Could not load the prompt: ${describeError(error).message}` : 'This prompt no longer exists.'}
      </p>
    );
  }

  const stories = nodesOf(prompt.stories).sort(newestFirst);

  return (
    <div className="detail">
      <section className="card prompt-detail" aria-labelledby="detail-heading">
        <h2 id="detail-heading" tabIndex={-1}>
          Prompt
        </h2>
        <blockquote className="prompt-quote">{prompt.content}</blockquote>
        <button type="button" className="button primary" onClick={() => void generate()} aria-disabled={starting || undefined}>
          {starting ? 'Starting…' : 'Generate story'}
        </button>
      </section>
      {storyId && <StoryViewer key={storyId} storyId={storyId} />}
      <StoryList
        stories={stories}
        total={prompt.stories.totalCount}
        selectedId={storyId}
        onSelect={onSelectStory}
        hasMore={prompt.stories.pageInfo.hasNextPage}
        loadingMore={loadingMore}
        onLoadMore={() => void loadMore()}
      />
    </div>
  );
}
