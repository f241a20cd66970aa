import type { StorySummary } from '../graphql/operations';
import { formatTime, plural } from '../lib/format';
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
          {stories.map((story) => {
            const selected = story.id === selectedId;
            return (
              <li key={story.id} data-story-id={story.id}>
                <button
                  type="button"
                  className={selected ? 'story-open selected' : 'story-open'}
                  aria-current={selected ? 'true' : undefined}
                  onClick={() => onSelect(story.id)}
                >
                  <StatusBadge status={story.status} />
                  <span>{plural(story.tokenCount, 'token')}</span>
                  <time className="muted small" dateTime={story.createdAt}>
                    {formatTime(story.createdAt)}
                  </time>
                </button>
              </li>
            );
          })}
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
