import { useApolloClient, useSubscription } from '@apollo/client/react';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { applyStreamEvent, removeStory } from '../graphql/cacheUpdates';
import { describeError } from '../lib/errors';
import { reconnectDelay } from '../graphql/client';
import { SHARED_STORY, STORY, STORY_STREAM, USAGE, isTerminal } from '../graphql/operations';
import { useToast } from '../toast/toast';
import { applyEvent, emptyStream } from './accumulate';

// Every story that some component shows while it is still being written is followed by exactly
// one storyStream subscription, owned here, whose events go into Apollo's cache: the viewer shows
// the cached text as it grows, the story list the cached status and token count. One owner per
// story means one subscription per story however many components show it. A story read through
// a share link is followed with its share token, which stands in for an account.

interface Registry {
  follow(storyId: string, shareToken: string | undefined): () => void;
}

const FollowContext = createContext<Registry | null>(null);

interface Followed {
  storyId: string;
  shareToken: string | undefined;
  count: number;
}

/** Owns the stream subscriptions of the stories that components asked to follow. */
export function StoryFollowers({ children }: { children: ReactNode }) {
  const [followed, setFollowed] = useState<ReadonlyMap<string, Followed>>(new Map());

  const follow = useCallback((storyId: string, shareToken: string | undefined) => {
    const key = shareToken ? `${storyId} ${shareToken}` : storyId;
    const change = (delta: number) =>
      setFollowed((current) => {
        const next = new Map(current);
        const count = (next.get(key)?.count ?? 0) + delta;
        if (count > 0) next.set(key, { storyId, shareToken, count });
        else next.delete(key);
        return next;
      });
    change(1);
    return () => change(-1);
  }, []);
  const registry = useMemo(() => ({ follow }), [follow]);

  return (
    <FollowContext.Provider value={registry}>
      {children}
      {[...followed].map(([key, { storyId, shareToken }]) => (
        <StoryFollower key={key} storyId={storyId} shareToken={shareToken} />
      ))}
    </FollowContext.Provider>
  );
}

/**
 * Keeps a story's text, status and token count live in the cache while active is true; with a
 * share token, as someone holding the story's share link.
 */
export function useFollowStory(storyId: string, active: boolean, shareToken?: string): void {
  const registry = useContext(FollowContext);
  useEffect(() => {
    if (!active || !registry) return;
    return registry.follow(storyId, shareToken);
  }, [registry, storyId, active, shareToken]);
}

/**
 * Follows storyStream for one story. Events are read in onData and folded, by seq, into a ref as
 * they arrive, so that events delivered together in one tick (which React batches into one
 * render) are all applied; each event writes the text so far into the cache.
 */
function StoryFollower({ storyId, shareToken }: { storyId: string; shareToken: string | undefined }) {
  const client = useApolloClient();
  const toast = useToast();
  const acc = useRef(emptyStream);
  const restarts = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  // Reads the story again: its owner by id, a share-link reader by the link, which also tells
  // whether the story is still shared (the page shows so when it is not).
  const reread = () =>
    shareToken
      ? client.query({ query: SHARED_STORY, variables: { token: shareToken }, fetchPolicy: 'network-only' }).then(({ data }) => data?.sharedStory ?? null)
      : client.query({ query: STORY, variables: { id: storyId }, fetchPolicy: 'network-only' }).then(({ data }) => data?.node ?? null);

  const { restart } = useSubscription(STORY_STREAM, {
    variables: shareToken ? { storyID: storyId, shareToken } : { storyID: storyId },
    fetchPolicy: 'no-cache',
    ignoreResults: true,
    // Never share a subscription that is already running: a late joiner would miss the first
    // event, the one that carries all the text so far.
    context: { queryDeduplication: false },
    onData: ({ data }) => {
      const event = data.data?.storyStream;
      if (!event) return;
      const wasTerminal = acc.current.status !== null && isTerminal(acc.current.status);
      acc.current = applyEvent(acc.current, event);
      applyStreamEvent(client.cache, event, acc.current.text);
      if (!wasTerminal && isTerminal(event.status)) {
        // The stream carries no timestamps: one read of the finished story brings them.
        reread().catch(() => {});
        // The story's tokens now count in its owner's usage.
        if (!shareToken) client.query({ query: USAGE, fetchPolicy: 'network-only' }).catch(() => {});
      }
    },
    // A stream always ends with a terminal event. One that completes without it was cut short
    // on the server (a replica shutting down, or the story no longer shared), so follow the
    // story again after a pause, if it can still be read.
    onComplete: () => {
      if (acc.current.status !== null && isTerminal(acc.current.status)) return;
      const again = () => {
        timer.current = setTimeout(() => restart(), reconnectDelay(restarts.current++));
      };
      if (!shareToken) return again();
      reread().then((story) => story && again(), again);
    },
    onError: (error) => {
      if (!shareToken) {
        // The story is gone (deleted with its prompt, in another tab): it leaves the lists.
        if (describeError(error).code === 'NOT_FOUND') return removeStory(client.cache, storyId);
        return toast.error('Live updates stopped', error);
      }
      // A withdrawn share link ends its streams: the page says so once the read comes back null.
      reread().then((story) => story && toast.error('Live updates stopped', error), () => toast.error('Live updates stopped', error));
    },
  });

  return null;
}
