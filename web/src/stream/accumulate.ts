import type { StoryEvent, StoryStatus } from '../graphql/operations';

/** What the events of one story stream add up to so far. */
export interface StreamState {
  /** The story text: the first event's delta (everything so far) plus every later delta. */
  text: string;
  /** seq of the last event applied; null before the first. */
  lastSeq: number | null;
  status: StoryStatus | null;
  tokenCount: number;
  error: string | null;
  /** How many events were applied, for tests and diagnostics. */
  events: number;
}

/** The state before any event. */
export const emptyStream: StreamState = { text: '', lastSeq: null, status: null, tokenCount: 0, error: null, events: 0 };

/**
 * Applies one event. Within a subscription seq rises by one per event. A seq that does not
 * rise means the subscription started over (graphql-ws re-subscribes after a reconnect), and
 * the server's first event of a subscription holds the whole text so far, so it replaces it.
 */
export function applyEvent(state: StreamState, event: StoryEvent): StreamState {
  const restart = state.lastSeq === null || event.seq <= state.lastSeq;
  return {
    text: restart ? event.delta : state.text + event.delta,
    lastSeq: event.seq,
    status: event.status,
    tokenCount: event.tokenCount,
    error: event.error,
    events: state.events + 1,
  };
}
