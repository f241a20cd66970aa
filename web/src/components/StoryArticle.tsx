import type { ReactNode, Ref } from 'react';
import { useLiveState } from '../graphql/live';
import { isTerminal, type Story } from '../graphql/operations';
import { formatTime, plural } from '../lib/format';
import { StatusBadge } from './StatusBadge';
import { OptionsSummary } from './StoryOptionsFields';

/** The fields of a story that StoryArticle shows. */
export type ShownStory = Pick<Story, 'id' | 'status' | 'text' | 'tokenCount' | 'error' | 'model' | 'createdAt' | 'finishedAt'> &
  Partial<Pick<Story, 'title' | 'options'>>;

function announcement(story: ShownStory): string {
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

/** Props of StoryArticle. */
export interface StoryArticleProps {
  story: ShownStory;
  /** Controls at the end of the header (Cancel). */
  actions?: ReactNode;
  /** What goes between the header and the text (sharing). */
  children?: ReactNode;
  /** What goes under the text (continue, regenerate, downloads). */
  after?: ReactNode;
  /** Replaces the title (its editor, while the owner renames the story). */
  titleEditor?: ReactNode;
  /** Next to the title (Rename). */
  titleActions?: ReactNode;
  headingRef?: Ref<HTMLHeadingElement>;
}

/**
 * A story as both its owner and a share link's reader see it: status, token count, the text
 * (live while it is being written, from the cache that the story's follower keeps up to date)
 * and when it was written. What may be done with it comes in through actions and children.
 */
export function StoryArticle({ story, actions, children, after, titleEditor, titleActions, headingRef }: StoryArticleProps) {
  const live = useLiveState();
  const active = !isTerminal(story.status);
  const waiting = active && story.text === '';
  const title = story.title?.trim();

  return (
    <article className="card story" aria-labelledby="story-heading" data-story-id={story.id} data-status={story.status}>
      {titleEditor ?? (
        <div className="story-title-row">
          <h3 id="story-heading" ref={headingRef} tabIndex={-1} data-testid="story-title" className={title ? 'story-title' : undefined}>
            {title || 'Story'}
          </h3>
          {titleActions}
        </div>
      )}
      <header className="story-header">
        <StatusBadge status={story.status} />
        <span className="muted small" data-testid="token-count">
          {plural(story.tokenCount, 'token')}
        </span>
        {actions}
      </header>
      {children}
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
      {after}
      <footer className="muted small story-meta">
        {story.options && (
          <span>
            Options: <OptionsSummary options={story.options} none="none" className="" />
          </span>
        )}
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
