import { useMutation, useQuery } from '@apollo/client/react';
import { useRef } from 'react';
import { CANCEL_STORY, STORY, isTerminal, type Story } from '../graphql/operations';
import { useLiveState } from '../graphql/live';
import { describeError } from '../lib/errors';
import { formatTime, plural } from '../lib/format';
import { useFollowStory } from '../stream/follow';
import { useToast } from '../toast/toast';
import { StatusBadge } from './StatusBadge';

function announcement(story: Story): string {
  switch (story.status) {
    case 'PENDING':
      return 'Story queued.';
    case 'GENERATING':
      return 'Writing the story…';
    case 'COMPLETED':
      return `Story finished, ${plural(story.tokenCount, 'token')}.`;
    case 'FAILED':
      return `Story failed${story.error ? `: ${story.error}` : '.'}`;
    case 'CANCELLED':
      return 'Story cancelled.';
  }
}

/**
 * One story: its text, live while it is being written, its status and a Cancel button.
 * The text comes from the cache, which the story's follower keeps up to date.
 */
export function StoryViewer({ storyId }: { storyId: string }) {
  const toast = useToast();
  const live = useLiveState();
  const heading = useRef<HTMLHeadingElement>(null);
  const { data, loading, error } = useQuery(STORY, { variables: { id: storyId } });
  const story = data?.node?.__typename === 'Story' ? data.node : null;
  const active = story !== null && !isTerminal(story.status);

  useFollowStory(storyId, active);

  const [cancelStory, { loading: cancelling }] = useMutation(CANCEL_STORY);

  async function cancel() {
    if (cancelling) return;
    try {
      await cancelStory({ variables: { id: storyId } });
      toast.success('Story cancelled.');
      heading.current?.focus();
    } catch (err) {
      toast.error('Could not cancel the story', err);
    }
  }

  if (!story) {
    if (loading) return <p className="muted" role="status">Loading story…</p>;
    return (
      <p className="inline-error" role="alert">
        {error ? `Could not load the story: ${describeError(error).message}` : 'This story no longer exists.'}
      </p>
    );
  }

  const waiting = active && story.text === '';

  return (
    <article className="card story" aria-labelledby="story-heading" data-story-id={story.id} data-status={story.status}>
      <header className="story-header">
        <h3 id="story-heading" ref={heading} tabIndex={-1}>
          Story
        </h3>
        <StatusBadge status={story.status} />
        <span className="muted small" data-testid="token-count">
          {plural(story.tokenCount, 'token')}
        </span>
        {active && (
          <button type="button" className="button danger" onClick={() => void cancel()} aria-disabled={cancelling || undefined}>
            {cancelling ? 'Cancelling…' : 'Cancel story'}
          </button>
        )}
      </header>
      <p className="sr-only" role="status">
        {announcement(story)}
      </p>
      {active && live === 'reconnecting' && (
        <p className="notice" role="status">
          Connection lost. Reconnecting; the story keeps being written meanwhile.
        </p>
      )}
      {waiting && <p className="muted">Waiting for the first words…</p>}
      <div
        className={active ? 'story-text streaming' : 'story-text'}
        data-testid="story-text"
        tabIndex={0}
        aria-label="Story text"
        aria-busy={active || undefined}
      >
        {story.text}
      </div>
      {story.status === 'FAILED' && story.error && <p className="inline-error">Generation failed: {story.error}</p>}
      <footer className="muted small story-meta">
        {story.model && <span>Model: {story.model}</span>}
        <span>
          Started <time dateTime={story.createdAt}>{formatTime(story.createdAt)}</time>
        </span>
        {story.finishedAt && (
          <span>
            Finished <time dateTime={story.finishedAt}>{formatTime(story.finishedAt)}</time>
          </span>
        )}
      </footer>
    </article>
  );
}
