import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useRef, useState, type MouseEvent } from 'react';
import { removePrompt } from '../graphql/cacheUpdates';
import { DELETE_PROMPT, PAGE_SIZE, PROMPTS, PROMPT_STORY_COUNT, nodesOf, type Prompt } from '../graphql/operations';
import { describeError } from '../lib/errors';
import { excerpt, formatTime, plural } from '../lib/format';
import { useToast } from '../toast/toast';
import { ConfirmDialog } from './ConfirmDialog';
import { isLong } from './LongText';

/** Props of PromptList. */
export interface PromptListProps {
  selectedId: string | null;
  onSelect(prompt: Prompt): void;
  /** Called after a prompt is gone, with the prompt to focus next (if any). */
  onDeleted(id: string, next: Prompt | null): void;
}

// A prompt in the list shows two lines; a longer one gets "Show more".
const LIST_LINES = 2;
const LIST_COLLAPSE_OVER = 140;

/** The question before a prompt goes, naming what goes with it. */
export function deleteQuestion(stories: number): { title: string; confirm: string } {
  if (stories === 0) return { title: 'Delete this prompt?', confirm: 'Delete prompt' };
  return { title: `Delete this prompt and its ${plural(stories, 'story', 'stories')}?`, confirm: `Delete prompt and ${plural(stories, 'story', 'stories')}` };
}

// Where a deleted row was: its space stays while the pointer is over the list, so that the rows
// below do not slide under the pointer (and a second click does not land on the next Delete).
interface Gap {
  id: string;
  index: number;
  height: number;
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
  const [asking, setAsking] = useState<Prompt | null>(null);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [gaps, setGaps] = useState<Gap[]>([]);
  const list = useRef<HTMLUListElement>(null);
  const [deletePrompt] = useMutation(DELETE_PROMPT);

  const prompts = nodesOf(data?.prompts);
  const total = data?.prompts.totalCount ?? 0;

  // The kept space goes as soon as the pointer moves anywhere but over the list.
  const hasGaps = gaps.length > 0;
  useEffect(() => {
    if (!hasGaps) return;
    const onMove = (event: PointerEvent) => {
      if (!list.current?.contains(event.target as Node)) setGaps([]);
    };
    document.addEventListener('pointermove', onMove);
    return () => document.removeEventListener('pointermove', onMove);
  }, [hasGaps]);

  function ask(prompt: Prompt) {
    if (deleting) return;
    setAsking(prompt);
    // The count may have changed in another tab: read it again while the question is open.
    client.query({ query: PROMPT_STORY_COUNT, variables: { id: prompt.id }, fetchPolicy: 'network-only' }).catch(() => {});
  }

  async function remove(prompt: Prompt, event: MouseEvent<HTMLButtonElement>) {
    setAsking(null);
    if (deleting) return;
    const index = prompts.findIndex((p) => p.id === prompt.id);
    const next = prompts[index + 1] ?? prompts[index - 1] ?? null;
    // Confirmed with a pointer (a keyboard's click has detail 0): keep the row's space.
    const row = [...(list.current?.querySelectorAll<HTMLElement>('[data-prompt-id]') ?? [])].find((el) => el.dataset.promptId === prompt.id);
    if (event.detail > 0 && row) setGaps((all) => [...all, { id: prompt.id, index, height: row.getBoundingClientRect().height }]);
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
      } else {
        setGaps((all) => all.filter((g) => g.id !== prompt.id));
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

  function toggle(id: string) {
    setExpanded((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  }

  // The rows, with the space of rows just deleted kept where they were.
  const shown = new Set(prompts.map((p) => p.id));
  const openGaps = gaps.filter((g) => !shown.has(g.id)).sort((a, b) => a.index - b.index);
  const rows: Array<{ gap: Gap } | { prompt: Prompt }> = prompts.map((prompt) => ({ prompt }));
  for (const gap of openGaps) rows.splice(Math.min(gap.index, rows.length), 0, { gap });

  // The prompt asked about, as the cache has it now (its count read again meanwhile).
  const askingNow = asking ? (prompts.find((p) => p.id === asking.id) ?? asking) : null;
  const question = askingNow ? deleteQuestion(askingNow.storyCount?.totalCount ?? 0) : null;

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
      {data && prompts.length === 0 && openGaps.length === 0 && <p className="muted">No prompts yet. Write one above to begin.</p>}
      {rows.length > 0 && (
        <ul className="prompts" ref={list}>
          {rows.map((row) => {
            if ('gap' in row) {
              return (
                <li key={`gap-${row.gap.id}`} className="prompt-gap" aria-hidden="true" style={{ height: row.gap.height }} data-testid="deleted-gap">
                  Deleted
                </li>
              );
            }
            const { prompt } = row;
            const selected = prompt.id === selectedId;
            const long = isLong(prompt.content, LIST_COLLAPSE_OVER, LIST_LINES);
            const open = expanded.has(prompt.id);
            const stories = prompt.storyCount?.totalCount;
            return (
              <li key={prompt.id} className={selected ? 'prompt selected' : 'prompt'} data-prompt-id={prompt.id}>
                <div className="prompt-main">
                  <button type="button" className="prompt-open" aria-current={selected ? 'true' : undefined} onClick={() => onSelect(prompt)}>
                    <span className={long && !open ? 'prompt-content clamp-2' : 'prompt-content'} id={`prompt-text-${prompt.id}`}>
                      {prompt.content}
                    </span>
                    <span className="prompt-meta muted small">
                      <time dateTime={prompt.createdAt}>{formatTime(prompt.createdAt)}</time>
                      {stories !== undefined && <span>{plural(stories, 'story', 'stories')}</span>}
                    </span>
                  </button>
                  {long && (
                    <button
                      type="button"
                      className="link-button"
                      aria-expanded={open}
                      aria-controls={`prompt-text-${prompt.id}`}
                      onClick={() => toggle(prompt.id)}
                    >
                      {open ? 'Show less' : 'Show more'}{' '}
                      <span className="sr-only">of the prompt {excerpt(prompt.content)}</span>
                    </button>
                  )}
                </div>
                <button
                  type="button"
                  className="button ghost danger"
                  aria-label={`Delete prompt: ${excerpt(prompt.content)}`}
                  aria-haspopup="dialog"
                  aria-disabled={deleting === prompt.id || undefined}
                  onClick={() => ask(prompt)}
                >
                  {deleting === prompt.id ? 'Deleting…' : 'Delete…'}
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
      {askingNow && question && (
        <ConfirmDialog
          title={question.title}
          confirmLabel={question.confirm}
          cancelLabel="Keep it"
          onCancel={() => setAsking(null)}
          onConfirm={(event) => void remove(askingNow, event)}
        >
          <blockquote className="dialog-quote">{excerpt(askingNow.content, 160)}</blockquote>
          <p>This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
