import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useRef } from 'react';
import { removeStory } from '../graphql/cacheUpdates';
import { CANCEL_STORY, STORY, isTerminal } from '../graphql/operations';
import { describeError } from '../lib/errors';
import { ShareControls } from '../share/ShareControls';
import { useFollowStory } from '../stream/follow';
import { useToast } from '../toast/toast';
import { StoryArticle } from './StoryArticle';

/**
 * One of the signed-in user's stories: its text, live while it is being written, its status,
 * a Cancel button and its share link.
 */
export function StoryViewer({ storyId }: { storyId: string }) {
  const toast = useToast();
  const client = useApolloClient();
  const heading = useRef<HTMLHeadingElement>(null);
  const { data, loading, error } = useQuery(STORY, { variables: { id: storyId } });
  const story = data?.node?.__typename === 'Story' ? data.node : null;
  const active = story !== null && !isTerminal(story.status);
  const gone = !story && !loading && (!error || describeError(error).code === 'NOT_FOUND');

  // A story that is not found any more (deleted with its prompt, in another tab) leaves the lists.
  useEffect(() => {
    if (gone) removeStory(client.cache, storyId);
  }, [gone, client, storyId]);

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

  return (
    <StoryArticle
      story={story}
      headingRef={heading}
      actions={
        active && (
          <button type="button" className="button danger" onClick={() => void cancel()} aria-disabled={cancelling || undefined}>
            {cancelling ? 'Cancelling…' : 'Cancel story'}
          </button>
        )
      }
    >
      <ShareControls story={story} />
    </StoryArticle>
  );
}
