import type { ApolloClient } from '@apollo/client';
import { useApolloClient } from '@apollo/client/react';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { applyStreamEvent, removeStory } from '../graphql/cacheUpdates';
import { reconnectDelay } from '../graphql/client';
import { ConnectionDroppedError, RESUMABLE } from '../graphql/drops';
import { graphql } from '../graphql/generated';
import { SHARED_STORY, STORY, STORY_STREAM, USAGE, isTerminal, type StoryEvent } from '../graphql/operations';
import { describeError } from '../lib/errors';
import { useToast, type Toaster } from '../toast/toast';
import { applyEvent, emptyStream, resumeAfterEnd, startSubscription, type StreamState } from './accumulate';

// Every story that some component shows while it is still being written is followed by exactly
// one storyStream subscription, owned here, whose events go into Apollo's cache: the viewer shows
// the cached text as it grows, the story list the cached status and token count. One owner per
// story means one subscription per story however many components show it. A story read through
// a share link is followed with its share token, which stands in for an account. A subscription
// that ends before the story does is made again after the last event applied (its cursor), so
// that the text goes on where it was: no restart, nothing twice, nothing missing. The same holds
// for a story followed to its end and then continued (continueStory): its new follower starts
// after the cursor of the end it saw, and the new text is appended to the text shown.

interface Registry {
  follow(storyId: string, shareToken: string | undefined): () => void;
}

const FollowContext = createContext<Registry | null>(null);

interface Followed {
  storyId: string;
  shareToken: string | undefined;
  count: number;
}

/**
 * Where followed stories ended, by follower key: a story continued later is followed again
 * from there. Only ends are kept (a story left while being written starts over when opened
 * again), and only for this page's life.
 */
export type Endings = Map<string, StreamState>;

/** Owns the stream subscriptions of the stories that components asked to follow. */
export function StoryFollowers({ children }: { children: ReactNode }) {
  const [followed, setFollowed] = useState<ReadonlyMap<string, Followed>>(new Map());
  const [endings] = useState<Endings>(() => new Map());

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
        <StoryFollower key={key} storyId={storyId} shareToken={shareToken} endings={endings} endingKey={key} />
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

/** Follows one story's stream while some component shows it. */
function StoryFollower({ storyId, shareToken, endings, endingKey }: { storyId: string; shareToken: string | undefined; endings: Endings; endingKey: string }) {
  const client = useApolloClient();
  const toast = useToast();
  useEffect(() => followStory(client, toast, storyId, shareToken, endings, endingKey), [client, toast, storyId, shareToken, endings, endingKey]);
  return null;
}

/**
 * Subscribes to storyStream for one story until the returned function is called. Each event is
 * folded into the text so far (src/stream/accumulate.ts), which goes into the cache with the
 * story's status and token count. A subscription that ends before the story does is made again:
 * after the cursor of the last event applied when the websocket dropped (ConnectionDroppedError,
 * at once: graphql-ws paces the reconnection), when the server was briefly unavailable or when
 * the stream completed early (after a pause); from the beginning, replacing the text, only when
 * the server refuses the cursor (BAD_USER_INPUT).
 */
export function followStory(
  client: ApolloClient,
  toast: Toaster,
  storyId: string,
  shareToken: string | undefined,
  endings?: Endings,
  endingKey: string = storyId,
): () => void {
  // A story seen to its end and now continued goes on after that end's cursor, its text kept.
  const ended = endings?.get(endingKey);
  endings?.delete(endingKey);
  let acc = ended ? resumeAfterEnd(ended, cachedText(client, storyId)) : emptyStream;
  let restarts = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: { unsubscribe(): void } | undefined;

  // Reads the story again: its owner by id, a share-link reader by the link, which also tells
  // whether the story is still shared (the page shows so when it is not).
  const reread = () =>
    shareToken
      ? client.query({ query: SHARED_STORY, variables: { token: shareToken }, fetchPolicy: 'network-only' }).then(({ data }) => data?.sharedStory ?? null)
      : client.query({ query: STORY, variables: { id: storyId }, fetchPolicy: 'network-only' }).then(({ data }) => data?.node ?? null);

  const again = (resume: boolean, delay: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => subscribe(resume), delay);
  };

  function subscribe(resume: boolean) {
    if (stopped) return;
    current?.unsubscribe();
    const start = startSubscription(acc, resume);
    acc = start.state;
    const variables = {
      storyID: storyId,
      ...(start.after !== null && { after: start.after }),
      ...(shareToken && { shareToken }),
    };
    let failed = false;
    const fail = (error: unknown) => {
      failed = true;
      onError(error, start.after !== null);
    };
    current = client
      .subscribe({
        query: STORY_STREAM,
        variables,
        fetchPolicy: 'no-cache',
        // Never share a subscription that is already running: a late joiner would miss the
        // first event, the one its text starts from.
        context: { ...RESUMABLE, queryDeduplication: false },
      })
      .subscribe({
        next: ({ data, error }) => {
          if (error) return fail(error);
          if (data?.storyStream) onEvent(data.storyStream);
        },
        error: fail,
        complete: () => {
          if (!failed) onComplete();
        },
      });
  }

  function onEvent(event: StoryEvent) {
    if (stopped) return;
    const wasTerminal = acc.status !== null && isTerminal(acc.status);
    acc = applyEvent(acc, event);
    applyStreamEvent(client.cache, event, acc.text);
    if (isTerminal(event.status)) endings?.set(endingKey, acc);
    if (!wasTerminal && isTerminal(event.status)) {
      // The stream carries no timestamps: one read of the finished story brings them.
      reread().catch(() => {});
      // The story's tokens now count in its owner's usage.
      if (!shareToken) client.query({ query: USAGE, fetchPolicy: 'network-only' }).catch(() => {});
    }
  }

  // A stream always ends with a terminal event. One that completes without it was cut short on
  // the server (a replica shutting down, or the story no longer shared), so follow the story
  // again after a pause, if it can still be read.
  function onComplete() {
    if (stopped || (acc.status !== null && isTerminal(acc.status))) return;
    const resume = () => again(true, reconnectDelay(restarts++));
    if (!shareToken) return resume();
    reread().then((story) => story && resume(), resume);
  }

  function onError(error: unknown, resumed: boolean) {
    if (stopped) return;
    if (error instanceof ConnectionDroppedError) return again(true, 0);
    const { code } = describeError(error);
    // The server does not take the cursor (it should not happen): start from the beginning.
    if (code === 'BAD_USER_INPUT' && resumed) return again(false, 0);
    if (code === 'UNAVAILABLE') return again(true, reconnectDelay(restarts++));
    if (!shareToken) {
      // The story is gone (deleted with its prompt, in another tab): it leaves the lists.
      if (code === 'NOT_FOUND') return removeStory(client.cache, storyId);
      return toast.error('Live updates stopped', error);
    }
    // A withdrawn share link ends its streams: the page says so once the read comes back null.
    const stoppedLive = () => !stopped && toast.error('Live updates stopped', error);
    reread().then((story) => story && stoppedLive(), stoppedLive);
  }

  subscribe(acc.cursor !== null);
  return () => {
    stopped = true;
    clearTimeout(timer);
    current?.unsubscribe();
  };
}

const STORY_TEXT = graphql(`
  fragment StoryText on Story {
    text
  }
`);

// The story's text as the cache holds it (what is shown), or null when it holds none.
function cachedText(client: ApolloClient, storyId: string): string | null {
  const id = client.cache.identify({ __typename: 'Story', id: storyId });
  if (!id) return null;
  try {
    return client.cache.readFragment({ id, fragment: STORY_TEXT })?.text ?? null;
  } catch {
    return null;
  }
}
