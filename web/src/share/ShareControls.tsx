import { useMutation } from '@apollo/client/react';
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
  const [shareStory, { loading: sharing }] = useMutation(SHARE_STORY);
  const [unshareStory, { loading: unsharing }] = useMutation(UNSHARE_STORY);

  async function share() {
    if (sharing) return;
    try {
      await shareStory({ variables: { id: story.id } });
      toast.success('Story shared: anyone with the link can read it.');
    } catch (err) {
      toast.error('Could not share the story', err);
    }
  }

  async function unshare() {
    if (unsharing) return;
    try {
      await unshareStory({ variables: { id: story.id } });
      toast.success('Story no longer shared: its link shows nothing now.');
    } catch (err) {
      toast.error('Could not stop sharing the story', err);
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
