import { useApolloClient, useSubscription } from '@apollo/client/react';
import { useRef, useState } from 'react';
import { applyStreamEvent } from '../graphql/cacheUpdates';
import { STORY_STREAM, isTerminal } from '../graphql/operations';
import { applyEvent, emptyStream, type StreamState } from './accumulate';

/** Options of useStoryStream. */
export interface StoryStreamOptions {
  /** Whether to listen at all (false once the story has finished). */
  active: boolean;
  /** Called once when the stream reports a terminal status. */
  onFinished?(state: StreamState): void;
  /** Called when the subscription fails. */
  onError?(error: unknown): void;
}

/**
 * Follows storyStream for one story and returns the text so far. Events are read in onData and
 * folded into a ref as they arrive, so that events delivered together in one tick, which React
 * batches into a single render, are all applied. Each event is also written to the cache.
 * Mount it with a React key per story id: the state belongs to one story.
 */
export function useStoryStream(storyId: string, { active, onFinished, onError }: StoryStreamOptions): StreamState {
  const client = useApolloClient();
  const acc = useRef<StreamState>(emptyStream);
  const [snapshot, setSnapshot] = useState<StreamState>(emptyStream);
  const callbacks = useRef({ onFinished, onError });
  callbacks.current = { onFinished, onError };

  useSubscription(STORY_STREAM, {
    variables: { storyID: storyId },
    skip: !active,
    fetchPolicy: 'no-cache',
    ignoreResults: true,
    onData: ({ data }) => {
      const event = data.data?.storyStream;
      if (!event) return;
      const wasTerminal = acc.current.status !== null && isTerminal(acc.current.status);
      acc.current = applyEvent(acc.current, event);
      setSnapshot(acc.current);
      applyStreamEvent(client.cache, event, acc.current.text);
      if (!wasTerminal && isTerminal(event.status)) callbacks.current.onFinished?.(acc.current);
    },
    onError: (error) => callbacks.current.onError?.(error),
  });

  return snapshot;
}
