import { useApolloClient, useMutation } from '@apollo/client/react';
import { removeStory } from '../graphql/cacheUpdates';
import { describeError } from '../lib/errors';
import { SHARE_STORY, UNSHARE_STORY, type Story } from '../graphql/operations';
import { sharePath } from '../lib/route';
import { CopyField } from '../components/CopyField';
import { useToast } from '../toast/toast';

/** The address of a share link's page on this site. */
export function shareLink(token: string, origin: string = window.location.origin): string {
  return `${origin}${sharePath(token)}`;
}

/**
 * Shares a story and shows its link, or stops sharing it. The story's shareToken comes back in
 * each mutation's answer, which updates the cached story, so this re-renders by itself.
 */
export function ShareControls({ story }: { story: Pick<Story, 'id' | 'shareToken'> }) {
  const toast = useToast();
  const client = useApolloClient();
  // A story that is not found any more leaves the lists (and the viewer says so).
  const failed = (context: string, err: unknown) => {
    toast.error(context, err);
    if (describeError(err).code === 'NOT_FOUND') removeStory(client.cache, story.id);
  };
  const [shareStory, { loading: sharing }] = useMutation(SHARE_STORY);
  const [unshareStory, { loading: unsharing }] = useMutation(UNSHARE_STORY);

  async function share() {
    if (sharing) return;
    try {
      await shareStory({ variables: { id: story.id } });
      toast.success('Story shared: anyone with the link can read it.');
    } catch (err) {
      failed('Could not share the story', err);
    }
  }

  async function unshare() {
    if (unsharing) return;
    try {
      await unshareStory({ variables: { id: story.id } });
      toast.success('Story no longer shared: its link shows nothing now.');
    } catch (err) {
      failed('Could not stop sharing the story', err);
    }
  }

  if (!story.shareToken) {
    return (
      <div className="share">
        <button type="button" className="button" onClick={() => void share()} aria-disabled={sharing || undefined}>
          {sharing ? 'Sharing…' : 'Share'}
        </button>
        <span className="hint">Get a link that lets anyone read this story, without an account.</span>
      </div>
    );
  }

  return (
    <div className="share shared">
      <CopyField label="Share link" value={shareLink(story.shareToken)} copyLabel="Copy link" />
      <div className="form-row">
        <span className="hint">Anyone with this link can read the story, live while it is being written.</span>
        <button type="button" className="button danger" onClick={() => void unshare()} aria-disabled={unsharing || undefined}>
          {unsharing ? 'Stopping…' : 'Stop sharing'}
        </button>
      </div>
    </div>
  );
}
