import { isTerminal, type StorySummary } from '../graphql/operations';
import { useFollowStory } from '../stream/follow';
import { excerpt, formatTime, plural } from '../lib/format';
import { StatusBadge } from './StatusBadge';

/** Props of StoryList. */
export interface StoryListProps {
  stories: StorySummary[];
  total: number;
  selectedId: string | null;
  onSelect(id: string): void;
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore(): void;
}

/** A prompt's stories, newest first, each opening in the story viewer. */
export function StoryList({ stories, total, selectedId, onSelect, hasMore, loadingMore, onLoadMore }: StoryListProps) {
  return (
    <section className="card story-list" aria-labelledby="stories-heading">
      <h3 id="stories-heading">
        Stories <span className="count">{total}</span>
      </h3>
      {stories.length === 0 ? (
        <p className="muted">No stories from this prompt yet.</p>
      ) : (
        <ol className="stories">
          {stories.map((story) => (
            <StoryRow key={story.id} story={story} selected={story.id === selectedId} onSelect={onSelect} />
          ))}
        </ol>
      )}
      {hasMore && (
        <button type="button" className="button wide" onClick={onLoadMore} aria-disabled={loadingMore || undefined}>
          {loadingMore ? 'Loading…' : 'Load more stories'}
        </button>
      )}
    </section>
  );
}

/**
 * What tells a story apart from its siblings (its versions): its title once it has one (given
 * soon after it ends, or by its owner), until then the first words of its text (live while it
 * is being written).
 */
export function storyLabel(story: Pick<StorySummary, 'text' | 'status'> & { title?: string | null }): string {
  if (story.title?.trim()) return story.title.trim();
  if (story.text?.trim()) return excerpt(story.text, 72);
  return isTerminal(story.status) ? 'No text' : 'Waiting for the first words…';
}

// One story of the list; while it is being written its status, token count and first words
// stay live.
function StoryRow({ story, selected, onSelect }: { story: StorySummary; selected: boolean; onSelect(id: string): void }) {
  useFollowStory(story.id, !isTerminal(story.status));
  return (
    <li data-story-id={story.id}>
      <button
        type="button"
        className={selected ? 'story-open selected' : 'story-open'}
        aria-current={selected ? 'true' : undefined}
        onClick={() => onSelect(story.id)}
      >
        <StatusBadge status={story.status} />
        <span className={story.text?.trim() || story.title?.trim() ? 'story-label' : 'story-label muted'} data-testid="story-label">
          {storyLabel(story)}
        </span>
        <span className="story-row-meta muted small">
          <span>{plural(story.tokenCount, 'token')}</span>
          <time dateTime={story.createdAt}>{formatTime(story.createdAt)}</time>
        </span>
      </button>
    </li>
  );
}
