import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { addStory, removePrompt } from '../graphql/cacheUpdates';
import { GENERATE_STORY, MODELS, PAGE_SIZE, PROMPT_WITH_STORIES, UPDATE_PROMPT, USAGE, nodesOf, type Prompt, type StorySummary } from '../graphql/operations';
import { GENERATE_COOLDOWN, useCooldown } from '../lib/cooldown';
import { describeError } from '../lib/errors';
import { changes, draftFrom, problemWith, type OptionsDraft } from '../lib/storyOptions';
import { useToast } from '../toast/toast';
import { PromptQuote } from './LongText';
import { PromptField } from './PromptField';
import { OptionsSummary, StoryOptionsFields } from './StoryOptionsFields';
import { StoryList } from './StoryList';
import { StoryViewer } from './StoryViewer';

/** Props of PromptDetail. */
export interface PromptDetailProps {
  promptId: string;
  storyId: string | null;
  onSelectStory(storyId: string): void;
  /** Called when the prompt turns out to be gone (deleted in another tab): the page closes it. */
  onGone?(): void;
}

function newestFirst(a: StorySummary, b: StorySummary): number {
  return b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);
}

export { GENERATE_COOLDOWN };

// A wait when the server said RATE_LIMITED without retryAfter.
const DEFAULT_WAIT_SECONDS = 5;

/**
 * The open prompt: its text (which can be edited in place), the Generate button (with a choice
 * of model when the server offers more than one, and a countdown while the server asks to wait),
 * the open story and the prompt's earlier stories.
 */
export function PromptDetail({ promptId, storyId, onSelectStory, onGone }: PromptDetailProps) {
  const toast = useToast();
  const client = useApolloClient();
  const modelField = useId();
  const cooldownId = useId();
  const [loadingMore, setLoadingMore] = useState(false);
  const [editing, setEditing] = useState(false);
  const editButton = useRef<HTMLButtonElement>(null);
  const models = useQuery(MODELS).data?.models ?? [];
  const [chosenModel, setChosenModel] = useState<string | null>(null);
  // Options for the next story over the prompt's; null until changed (then the prompt's show).
  const [override, setOverride] = useState<OptionsDraft | null>(null);
  const [overrideProblem, setOverrideProblem] = useState<string | null>(null);
  const [overrideOpen, setOverrideOpen] = useState(false);
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
  const cooldown = useCooldown(GENERATE_COOLDOWN);

  const prompt = data?.node?.__typename === 'Prompt' ? data.node : null;
  const missing = !prompt && !loading && (!error || describeError(error).code === 'NOT_FOUND');

  // Not found (deleted in another tab, or never this user's): it leaves the lists too.
  useEffect(() => {
    if (missing) removePrompt(client.cache, promptId);
  }, [missing, client, promptId]);

  // The prompt is gone: the page closes it, and then it leaves the cache and every list.
  function gone() {
    onGone?.();
    removePrompt(client.cache, promptId);
  }

  async function generate() {
    if (starting || cooldown.secondsLeft > 0) return;
    const problem = override ? problemWith(override) : null;
    setOverrideProblem(problem);
    if (problem) {
      setOverrideOpen(true);
      return;
    }
    // Only the options that differ from the prompt's go with the request.
    const options = override && prompt ? changes(override, prompt.options) : null;
    try {
      const { data: result } = await generateStory({
        variables: { promptID: promptId, ...(model && { model }), ...(options && { options }) },
      });
      if (result) onSelectStory(result.generateStory.id);
      // One more story running counts against the user's limits.
      client.query({ query: USAGE, fetchPolicy: 'network-only' }).catch(() => {});
    } catch (err) {
      const report = describeError(err);
      if (report.code === 'RATE_LIMITED') cooldown.start(report.retryAfter ?? DEFAULT_WAIT_SECONDS);
      toast.error('Could not start a story', err);
      if (report.code === 'NOT_FOUND') gone();
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
        {missing ? 'Prompt not found: it does not exist (any more), or it is not yours.' : `Could not load the prompt: ${describeError(error).message}`}
      </p>
    );
  }

  const stories = nodesOf(prompt.stories).sort(newestFirst);
  const waiting = cooldown.secondsLeft > 0;

  function closeEditor() {
    setEditing(false);
    requestAnimationFrame(() => editButton.current?.focus());
  }

  return (
    <div className="detail">
      <section className="card prompt-detail" aria-labelledby="detail-heading">
        <div className="card-head">
          <h2 id="detail-heading" tabIndex={-1}>
            Prompt
          </h2>
          {!editing && (
            <button ref={editButton} type="button" className="button ghost" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
        </div>
        {editing ? (
          <PromptEditor prompt={prompt} onDone={closeEditor} onGone={gone} />
        ) : (
          <>
            <PromptQuote text={prompt.content} />
            <p className="muted small prompt-options">
              Story options: <OptionsSummary options={prompt.options} none="none (the server's defaults)" className="" />
            </p>
          </>
        )}
        <div className="generate-row">
          <button
            type="button"
            className={waiting ? 'button primary waiting' : 'button primary'}
            onClick={() => void generate()}
            aria-disabled={starting || waiting || undefined}
            aria-describedby={waiting ? cooldownId : undefined}
          >
            {starting ? 'Starting…' : 'Generate story'}
          </button>
          {waiting && (
            <span id={cooldownId} className="cooldown" data-testid="generate-cooldown">
              Too many stories started just now: you can generate again in <strong>{cooldown.secondsLeft} s</strong>.
            </span>
          )}
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
        <details className="options-panel" open={overrideOpen} onToggle={(e) => setOverrideOpen(e.currentTarget.open)}>
          <summary>
            Options for the next story:{' '}
            <OptionsSummary
              options={override ?? prompt.options}
              none="the prompt's"
              className=""
            />
            {override && changes(override, prompt.options) ? ' (changed)' : ''}
          </summary>
          <StoryOptionsFields
            legend="This story only: the prompt's options, changed"
            value={override ?? draftFrom(prompt.options)}
            onChange={(next) => {
              setOverride(next);
              if (overrideProblem) setOverrideProblem(problemWith(next));
            }}
            problem={overrideProblem}
          />
          {override && (
            <button
              type="button"
              className="button ghost"
              onClick={() => {
                setOverride(null);
                setOverrideProblem(null);
              }}
            >
              Use the prompt's options
            </button>
          )}
        </details>
      </section>
      {storyId && <StoryViewer key={storyId} storyId={storyId} onSelectStory={onSelectStory} />}
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

/**
 * A prompt's text, edited in place: the same rules as a new prompt (1 to 4,000 characters, the
 * counter, a paste cut to fit), and what the server says shown under the field. Ctrl+Enter
 * saves, Escape leaves it as it was.
 */
function PromptEditor({ prompt, onDone, onGone }: { prompt: Prompt; onDone(): void; onGone(): void }) {
  const toast = useToast();
  const ids = { field: useId(), error: useId() };
  const [content, setContent] = useState(prompt.content);
  const [options, setOptions] = useState<OptionsDraft>(() => draftFrom(prompt.options));
  const [problem, setProblem] = useState<string | null>(null);
  const [optionsProblem, setOptionsProblem] = useState<string | null>(null);
  const field = useRef<HTMLTextAreaElement>(null);
  const [updatePrompt, { loading }] = useMutation(UPDATE_PROMPT);

  async function save(event?: FormEvent) {
    event?.preventDefault();
    if (loading) return;
    const trimmed = content.trim();
    if (trimmed === '') {
      setProblem('A prompt cannot be empty: write something, or cancel to keep it as it was.');
      field.current?.focus();
      return;
    }
    const badOptions = problemWith(options);
    setOptionsProblem(badOptions);
    if (badOptions) return;
    const changed = changes(options, prompt.options);
    if (trimmed === prompt.content && !changed) return onDone();
    setProblem(null);
    try {
      await updatePrompt({ variables: { id: prompt.id, content: trimmed, ...(changed && { options: changed }) } });
      toast.success('Prompt saved.');
      onDone();
    } catch (err) {
      const report = describeError(err);
      if (report.code === 'NOT_FOUND') {
        toast.error('Could not save the prompt', err);
        onGone();
        return;
      }
      setProblem(`Not saved: ${report.message}`);
      field.current?.focus();
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void save(event);
    if (event.key === 'Escape') {
      event.preventDefault();
      onDone();
    }
  }

  return (
    <form className="prompt-editor" onSubmit={save} noValidate aria-label="Edit the prompt">
      <label htmlFor={ids.field} className="field-label">
        Prompt text
      </label>
      <PromptField
        id={ids.field}
        textareaRef={field}
        value={content}
        rows={Math.min(12, Math.max(3, content.split('\n').length + 1))}
        onChange={(next) => {
          setContent(next);
          if (problem && next.trim() !== '') setProblem(null);
        }}
        invalid={problem !== null}
        describedBy={problem ? ids.error : undefined}
        onKeyDown={onKeyDown}
        autoFocus
        hint="Ctrl+Enter saves, Escape cancels"
        actions={
          <span className="form-actions">
            <button type="button" className="button" onClick={onDone}>
              Cancel
            </button>
            <button type="submit" className="button primary" aria-disabled={loading || undefined}>
              {loading ? 'Saving…' : 'Save'}
            </button>
          </span>
        }
      />
      {problem && (
        <p id={ids.error} className="inline-error" role="alert" data-testid="edit-error">
          {problem}
        </p>
      )}
      <StoryOptionsFields
        legend="Story options (defaults for this prompt's stories)"
        value={options}
        onChange={(next) => {
          setOptions(next);
          if (optionsProblem) setOptionsProblem(problemWith(next));
        }}
        problem={optionsProblem}
      />
    </form>
  );
}
