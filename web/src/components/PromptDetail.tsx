import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useId, useState } from 'react';
import { addStory } from '../graphql/cacheUpdates';
import { GENERATE_STORY, MODELS, PAGE_SIZE, PROMPT_WITH_STORIES, USAGE, nodesOf, type StorySummary } from '../graphql/operations';
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

/**
 * The open prompt: its text, the Generate button (with a choice of model when the server offers
 * more than one), the open story and the prompt's earlier stories.
 */
export function PromptDetail({ promptId, storyId, onSelectStory }: PromptDetailProps) {
  const toast = useToast();
  const client = useApolloClient();
  const modelField = useId();
  const [loadingMore, setLoadingMore] = useState(false);
  const models = useQuery(MODELS).data?.models ?? [];
  const [chosenModel, setChosenModel] = useState<string | null>(null);
  // The server's default is its first model; a choice only matters when there are several.
  const model = models.length > 1 ? (chosenModel !== null && models.includes(chosenModel) ? chosenModel : models[0]) : undefined;
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
      const { data: result } = await generateStory({ variables: model ? { promptID: promptId, model } : { promptID: promptId } });
      if (result) onSelectStory(result.generateStory.id);
      // One more story running counts against the user's limits.
      client.query({ query: USAGE, fetchPolicy: 'network-only' }).catch(() => {});
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
        {error && describeError(error).code !== 'NOT_FOUND' ? `Could not load the prompt: ${describeError(error).message}` : 'Prompt not found: it does not exist, or it is not yours.'}
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
        <div className="generate-row">
          <button type="button" className="button primary" onClick={() => void generate()} aria-disabled={starting || undefined}>
            {starting ? 'Starting…' : 'Generate story'}
          </button>
          {model !== undefined && (
            <span className="model-choice">
              <label htmlFor={modelField}>Model</label>
              <select id={modelField} className="text-input" value={model} onChange={(e) => setChosenModel(e.target.value)}>
                {models.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            </span>
          )}
        </div>
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
