import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { removePrompt } from '../graphql/cacheUpdates';
import { DELETE_PROMPT, PAGE_SIZE, PROMPTS, nodesOf, type Prompt } from '../graphql/operations';
import { describeError } from '../lib/errors';
import { excerpt, formatTime } from '../lib/format';
import { useToast } from '../toast/toast';

/** Props of PromptList. */
export interface PromptListProps {
  selectedId: string | null;
  onSelect(prompt: Prompt): void;
  /** Called after a prompt is gone, with the prompt to focus next (if any). */
  onDeleted(id: string, next: Prompt | null): void;
}

/** The prompts, newest first, each with a button to open it and one to delete it. */
export function PromptList({ selectedId, onSelect, onDeleted }: PromptListProps) {
  const toast = useToast();
  const client = useApolloClient();
  const { data, loading, error, fetchMore, refetch } = useQuery(PROMPTS, {
    variables: { first: PAGE_SIZE },
    notifyOnNetworkStatusChange: true,
  });
  const [loadingMore, setLoadingMore] = useState(false);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [deletePrompt] = useMutation(DELETE_PROMPT);

  const prompts = nodesOf(data?.prompts);
  const total = data?.prompts.totalCount ?? 0;

  async function remove(prompt: Prompt) {
    if (deleting) return;
    const index = prompts.findIndex((p) => p.id === prompt.id);
    const next = prompts[index + 1] ?? prompts[index - 1] ?? null;
    setDeleting(prompt.id);
    try {
      await deletePrompt({
        variables: { id: prompt.id },
        update(cache) {
          removePrompt(cache, prompt.id);
        },
      });
      toast.success('Prompt deleted.');
      onDeleted(prompt.id, next);
    } catch (err) {
      // Someone else deleted it first: it is gone either way, so drop it here too.
      if (describeError(err).code === 'NOT_FOUND') {
        removePrompt(client.cache, prompt.id);
        onDeleted(prompt.id, next);
      }
      toast.error('Could not delete the prompt', err);
    } finally {
      setDeleting(null);
    }
  }

  async function loadMore() {
    if (loadingMore || !data?.prompts.pageInfo.endCursor) return;
    setLoadingMore(true);
    try {
      await fetchMore({ variables: { after: data.prompts.pageInfo.endCursor } });
    } catch (err) {
      toast.error('Could not load more prompts', err);
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <section className="card prompt-list" aria-labelledby="prompts-heading" aria-busy={loading || undefined}>
      <h2 id="prompts-heading" tabIndex={-1}>
        Prompts {data && <span className="count">{total}</span>}
      </h2>
      {loading && !data && (
        <p className="muted" role="status">
          Loading prompts…
        </p>
      )}
      {error && !data && (
        <div className="inline-error" role="alert">
          <p>Could not load prompts: {describeError(error).message}</p>
          <button type="button" className="button" onClick={() => void refetch()}>
            Try again
          </button>
        </div>
      )}
      {data && prompts.length === 0 && <p className="muted">No prompts yet. Write one above to begin.</p>}
      {prompts.length > 0 && (
        <ul className="prompts">
          {prompts.map((prompt) => {
            const selected = prompt.id === selectedId;
            return (
              <li key={prompt.id} className={selected ? 'prompt selected' : 'prompt'} data-prompt-id={prompt.id}>
                <button
                  type="button"
                  className="prompt-open"
                  aria-current={selected ? 'true' : undefined}
                  onClick={() => onSelect(prompt)}
                >
                  <span className="prompt-content">{prompt.content}</span>
                  <time className="muted small" dateTime={prompt.createdAt}>
                    {formatTime(prompt.createdAt)}
                  </time>
                </button>
                <button
                  type="button"
                  className="button ghost danger"
                  aria-label={`Delete prompt: ${excerpt(prompt.content)}`}
                  aria-disabled={deleting === prompt.id || undefined}
                  onClick={() => void remove(prompt)}
                >
                  {deleting === prompt.id ? 'Deleting…' : 'Delete'}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {data?.prompts.pageInfo.hasNextPage && (
        <button type="button" className="button wide" onClick={() => void loadMore()} aria-disabled={loadingMore || undefined}>
          {loadingMore ? 'Loading…' : 'Load more prompts'}
        </button>
      )}
    </section>
  );
}
