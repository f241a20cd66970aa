import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { addStory, removeStory, reopenStory } from '../graphql/cacheUpdates';
import { CANCEL_STORY, CONTINUE_STORY, REGENERATE_STORY, STORY, UPDATE_STORY, USAGE, isTerminal, type Story } from '../graphql/operations';
import { GENERATE_COOLDOWN, useCooldown } from '../lib/cooldown';
import { describeError } from '../lib/errors';
import { exportHref } from '../lib/exports';
import { ShareControls } from '../share/ShareControls';
import { useFollowStory } from '../stream/follow';
import { useToast } from '../toast/toast';
import { StoryArticle } from './StoryArticle';

// A wait when the server said RATE_LIMITED without retryAfter.
const DEFAULT_WAIT_SECONDS = 5;

/** The longest instruction continueStory takes, in characters. */
export const MAX_INSTRUCTION_LENGTH = 1000;

/** The longest title updateStory takes, in characters. */
export const MAX_TITLE_LENGTH = 200;

// A finished story gets its title soon after its last event: it is read again this often
// (milliseconds after it finished) until the title is there.
const TITLE_CHECKS = [800, 2_000, 5_000];

/**
 * One of the signed-in user's stories: its title (which its owner may change), its text, live
 * while it is being written, its status, a Cancel button, its share link and, once it has
 * finished, Continue (with an optional instruction), Regenerate (a new version, listed with the
 * prompt's stories) and downloads as Markdown and EPUB.
 */
export function StoryViewer({ storyId, onSelectStory }: { storyId: string; onSelectStory?(storyId: string): void }) {
  const toast = useToast();
  const client = useApolloClient();
  const heading = useRef<HTMLHeadingElement>(null);
  const { data, loading, error } = useQuery(STORY, { variables: { id: storyId } });
  const story = data?.node?.__typename === 'Story' ? data.node : null;
  const active = story !== null && !isTerminal(story.status);
  const gone = !story && !loading && (!error || describeError(error).code === 'NOT_FOUND');
  const [renaming, setRenaming] = useState(false);

  // A story that is not found any more (deleted with its prompt, in another tab) leaves the lists.
  useEffect(() => {
    if (gone) removeStory(client.cache, storyId);
  }, [gone, client, storyId]);

  useFollowStory(storyId, active);
  useTitleWhenFinished(story);

  const [cancelStory, { loading: cancelling }] = useMutation(CANCEL_STORY);

  async function cancel() {
    if (cancelling) return;
    try {
      await cancelStory({ variables: { id: storyId } });
      toast.success('Story cancelled.');
      heading.current?.focus();
    } catch (err) {
      toast.error('Could not cancel the story', err);
      if (describeError(err).code === 'NOT_FOUND') removeStory(client.cache, storyId);
    }
  }

  if (!story) {
    if (loading) return <p className="muted" role="status">Loading story…</p>;
    return (
      <p className="inline-error" role="alert">
        {gone ? 'Story not found: it does not exist (any more), or it is not yours.' : `Could not load the story: ${describeError(error).message}`}
      </p>
    );
  }

  function doneRenaming() {
    setRenaming(false);
    requestAnimationFrame(() => heading.current?.focus());
  }

  return (
    <StoryArticle
      story={story}
      headingRef={heading}
      titleEditor={renaming ? <TitleEditor story={story} onDone={doneRenaming} /> : undefined}
      titleActions={
        <button type="button" className="button ghost" onClick={() => setRenaming(true)}>
          Rename
        </button>
      }
      actions={
        active && (
          <button type="button" className="button danger" onClick={() => void cancel()} aria-disabled={cancelling || undefined}>
            {cancelling ? 'Cancelling…' : 'Cancel story'}
          </button>
        )
      }
      after={!active && <StoryCraft story={story} onSelectStory={onSelectStory} onContinued={() => heading.current?.focus()} />}
    >
      <ShareControls story={story} />
    </StoryArticle>
  );
}

/** Reads a story that just finished again until its title (given in the background) is there. */
function useTitleWhenFinished(story: Story | null) {
  const client = useApolloClient();
  const id = story?.id;
  const waiting = story !== null && isTerminal(story.status) && !story.title && story.text.trim() !== '' && recently(story.finishedAt);
  useEffect(() => {
    if (!waiting || !id) return;
    let stopped = false;
    const timers = TITLE_CHECKS.map((delay) =>
      setTimeout(() => {
        if (!stopped) client.query({ query: STORY, variables: { id }, fetchPolicy: 'network-only' }).catch(() => {});
      }, delay),
    );
    return () => {
      stopped = true;
      timers.forEach(clearTimeout);
    };
  }, [waiting, id, client]);
}

// Finished within the last minute (or not known to have finished long ago).
function recently(finishedAt: string | null): boolean {
  if (!finishedAt) return true;
  const at = Date.parse(finishedAt);
  return Number.isNaN(at) || Date.now() - at < 60_000;
}

/** The owner's form for a story's title: Enter saves, Escape leaves it; empty removes it. */
function TitleEditor({ story, onDone }: { story: Story; onDone(): void }) {
  const toast = useToast();
  const client = useApolloClient();
  const ids = { field: useId(), error: useId() };
  const [title, setTitle] = useState(story.title ?? '');
  const [problem, setProblem] = useState<string | null>(null);
  const [updateStory, { loading }] = useMutation(UPDATE_STORY);

  async function save(event?: FormEvent) {
    event?.preventDefault();
    if (loading) return;
    const trimmed = title.replace(/\s+/g, ' ').trim();
    if ([...trimmed].length > MAX_TITLE_LENGTH) {
      setProblem(`A title has at most ${MAX_TITLE_LENGTH} characters.`);
      return;
    }
    if (trimmed === (story.title ?? '')) return onDone();
    try {
      await updateStory({ variables: { id: story.id, title: trimmed || null } });
      toast.success(trimmed ? 'Title saved.' : 'Title removed.');
      onDone();
    } catch (err) {
      const report = describeError(err);
      if (report.code === 'NOT_FOUND') {
        toast.error('Could not rename the story', err);
        removeStory(client.cache, story.id);
        return;
      }
      setProblem(`Not saved: ${report.message}`);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === 'Escape') {
      event.preventDefault();
      onDone();
    }
  }

  return (
    <form className="title-editor" onSubmit={save} noValidate aria-label="Rename the story">
      <h3 id="story-heading" className="sr-only">
        Rename the story
      </h3>
      <label htmlFor={ids.field} className="field-label">
        Title
      </label>
      <div className="copy-row">
        <input
          id={ids.field}
          className="text-input"
          value={title}
          maxLength={MAX_TITLE_LENGTH}
          autoFocus
          placeholder="A title, or empty for none"
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? ids.error : undefined}
          onChange={(e) => {
            setTitle(e.target.value);
            setProblem(null);
          }}
          onKeyDown={onKeyDown}
        />
        <span className="form-actions">
          <button type="button" className="button" onClick={onDone}>
            Cancel
          </button>
          <button type="submit" className="button primary" aria-disabled={loading || undefined}>
            {loading ? 'Saving…' : 'Save title'}
          </button>
        </span>
      </div>
      {problem && (
        <p id={ids.error} className="inline-error" role="alert" data-testid="title-error">
          {problem}
        </p>
      )}
    </form>
  );
}

/**
 * What can be done with a finished story: continue it (with an optional instruction), write a
 * new version of it, or download it.
 */
function StoryCraft({ story, onSelectStory, onContinued }: { story: Story; onSelectStory?(storyId: string): void; onContinued(): void }) {
  const toast = useToast();
  const client = useApolloClient();
  const cooldown = useCooldown(GENERATE_COOLDOWN);
  const ids = { instruction: useId(), hint: useId(), cooldown: useId() };
  const [instruction, setInstruction] = useState('');
  // Not through the cache: it would keep the finished story finished (see createCache), and
  // give back COMPLETED. reopenStory puts the answer's status in.
  const [continueStory, { loading: continuing }] = useMutation(CONTINUE_STORY, { fetchPolicy: 'no-cache' });
  const [regenerateStory, { loading: regenerating }] = useMutation(REGENERATE_STORY, {
    update(cache, { data }) {
      if (data) addStory(cache, data.regenerateStory);
    },
  });
  const waiting = cooldown.secondsLeft > 0;
  const busy = continuing || regenerating || waiting;
  const tooLong = [...instruction.trim()].length > MAX_INSTRUCTION_LENGTH;

  function failed(what: string, err: unknown) {
    const report = describeError(err);
    if (report.code === 'RATE_LIMITED') cooldown.start(report.retryAfter ?? DEFAULT_WAIT_SECONDS);
    toast.error(what, err);
    if (report.code === 'NOT_FOUND') removeStory(client.cache, story.id);
  }

  async function onContinue(event: FormEvent) {
    event.preventDefault();
    if (busy || tooLong) return;
    const trimmed = instruction.trim();
    try {
      const { data } = await continueStory({ variables: { id: story.id, input: trimmed ? { instruction: trimmed } : null } });
      if (data) reopenStory(client.cache, data.continueStory);
      setInstruction('');
      // The form goes while the story is written: the focus goes to the story, not the page.
      onContinued();
      client.query({ query: USAGE, fetchPolicy: 'network-only' }).catch(() => {});
    } catch (err) {
      failed('Could not continue the story', err);
    }
  }

  async function onRegenerate() {
    if (busy) return;
    try {
      const { data } = await regenerateStory({ variables: { id: story.id } });
      if (data) {
        toast.success('A new version is being written.');
        onSelectStory?.(data.regenerateStory.id);
      }
      client.query({ query: USAGE, fetchPolicy: 'network-only' }).catch(() => {});
    } catch (err) {
      failed('Could not write a new version', err);
    }
  }

  return (
    <div className="story-craft">
      <form className="continue-form" onSubmit={onContinue} noValidate aria-label="Continue the story">
        <label htmlFor={ids.instruction} className="field-label">
          What happens next? <span className="muted small">(optional)</span>
        </label>
        <div className="copy-row">
          <input
            id={ids.instruction}
            className="text-input"
            value={instruction}
            placeholder="A letter answers back…"
            aria-invalid={tooLong || undefined}
            aria-describedby={tooLong ? ids.hint : undefined}
            onChange={(e) => setInstruction(e.target.value)}
          />
          <button
            type="submit"
            className="button primary"
            aria-disabled={busy || tooLong || undefined}
            aria-describedby={waiting ? ids.cooldown : undefined}
          >
            {continuing ? 'Continuing…' : 'Continue story'}
          </button>
        </div>
        {tooLong && (
          <p id={ids.hint} className="warning" role="alert">
            An instruction has at most {MAX_INSTRUCTION_LENGTH.toLocaleString('en')} characters.
          </p>
        )}
      </form>
      <div className="generate-row">
        <button
          type="button"
          className="button"
          onClick={() => void onRegenerate()}
          aria-disabled={busy || undefined}
          aria-describedby={waiting ? ids.cooldown : undefined}
        >
          {regenerating ? 'Starting…' : 'Regenerate'}
        </button>
        <a className="button" href={exportHref(story.id, 'md')} download>
          Download Markdown
        </a>
        <a className="button" href={exportHref(story.id, 'epub')} download>
          Download EPUB
        </a>
        {waiting && (
          <span id={ids.cooldown} className="cooldown">
            Too many stories started just now: you can go on in <strong>{cooldown.secondsLeft} s</strong>.
          </span>
        )}
      </div>
    </div>
  );
}
