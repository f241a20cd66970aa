import { useApolloClient, useSubscription } from '@apollo/client/react';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { applyStreamEvent } from '../graphql/cacheUpdates';
import { reconnectDelay } from '../graphql/client';
import { STORY, STORY_STREAM, isTerminal } from '../graphql/operations';
import { useToast } from '../toast/toast';
import { applyEvent, emptyStream } from './accumulate';

// Every story that some component shows while it is still being written is followed by exactly
// one storyStream subscription, owned here, whose events go into Apollo's cache: the viewer shows
// the cached text as it grows, the story list the cached status and token count. One owner per
// story means one subscription per story however many components show it.

interface Registry {
  follow(storyId: string): () => void;
}

const FollowContext = createContext<Registry | null>(null);

/** Owns the stream subscriptions of the stories that components asked to follow. */
export function StoryFollowers({ children }: { children: ReactNode }) {
  const [followed, setFollowed] = useState<ReadonlyMap<string, number>>(new Map());

  const follow = useCallback((storyId: string) => {
    const change = (delta: number) =>
      setFollowed((current) => {
        const next = new Map(current);
        const count = (next.get(storyId) ?? 0) + delta;
        if (count > 0) next.set(storyId, count);
        else next.delete(storyId);
        return next;
      });
    change(1);
    return () => change(-1);
  }, []);
  const registry = useMemo(() => ({ follow }), [follow]);

  return (
    <FollowContext.Provider value={registry}>
      {children}
      {[...followed.keys()].map((storyId) => (
        <StoryFollower key={storyId} storyId={storyId} />
      ))}
    </FollowContext.Provider>
  );
}

/** Keeps a story's text, status and token count live in the cache while active is true. */
export function useFollowStory(storyId: string, active: boolean): void {
  const registry = useContext(FollowContext);
  useEffect(() => {
    if (!active || !registry) return;
    return registry.follow(storyId);
  }, [registry, storyId, active]);
}

/**
 * Follows storyStream for one story. Events are read in onData and folded, by seq, into a ref as
 * they arrive, so that events delivered together in one tick (which React batches into one
 * render) are all applied; each event writes the text so far into the cache.
 */
function StoryFollower({ storyId }: { storyId: string }) {
  const client = useApolloClient();
  const toast = useToast();
  const acc = useRef(emptyStream);
  const restarts = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);

  const { restart } = useSubscription(STORY_STREAM, {
    variables: { storyID: storyId },
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
        client.query({ query: STORY, variables: { id: storyId }, fetchPolicy: 'network-only' }).catch(() => {});
      }
    },
    // A stream always ends with a terminal event. One that completes without it was cut short
    // on the server (a replica shutting down), so follow the story again after a pause.
    onComplete: () => {
      if (acc.current.status !== null && isTerminal(acc.current.status)) return;
      timer.current = setTimeout(() => restart(), reconnectDelay(restarts.current++));
    },
    onError: (error) => toast.error('Live updates stopped', error),
  });

  return null;
}
