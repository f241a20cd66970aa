import type { StoryEvent, StoryStatus } from '../graphql/operations';

/** What the events of one story's stream subscriptions add up to so far. */
export interface StreamState {
  /** The story text as shown: the text the current subscription builds on, plus its deltas. */
  text: string;
  /**
   * The text the current subscription builds on: the text held at the cursor it resumed after,
   * or '' for one that started from the beginning (whose first event holds all the text so far).
   */
  base: string;
  /**
   * The cursor of the last event applied, after which a new subscription resumes; null before
   * the first event, and after a subscription that started from the beginning until its first.
   */
  cursor: string | null;
  /** seq of the last event applied in the current subscription; null before its first. */
  lastSeq: number | null;
  status: StoryStatus | null;
  tokenCount: number;
  error: string | null;
  /** How many events were applied, for tests and diagnostics. */
  events: number;
}

/** The state before any event. */
export const emptyStream: StreamState = {
  text: '',
  base: '',
  cursor: null,
  lastSeq: null,
  status: null,
  tokenCount: 0,
  error: null,
  events: 0,
};

/** Where a new subscription starts: after a cursor, or (null) from the beginning. */
export interface NextSubscription {
  state: StreamState;
  after: string | null;
}

/**
 * Prepares state for a new subscription of the same story. Resumed (resume, and an event was
 * applied), it starts after the last cursor applied and its events append to the text. Otherwise
 * it starts from the beginning: the text stays shown until the new first event, which holds all
 * the text so far, replaces it.
 */
export function startSubscription(state: StreamState, resume: boolean): NextSubscription {
  const after = resume ? state.cursor : null;
  if (after === null) return { after, state: { ...state, base: '', cursor: null, lastSeq: null } };
  return { after, state: { ...state, base: state.text, lastSeq: null } };
}

/**
 * Applies one event. Within a subscription seq rises by one per event, and each delta follows
 * the one before. The first event of a subscription goes after its base instead: so does an
 * event whose seq does not rise, which means that graphql-ws sent the subscription again after a
 * reconnect, with the variables (the cursor) it started with.
 */
export function applyEvent(state: StreamState, event: StoryEvent): StreamState {
  const first = state.lastSeq === null || event.seq <= state.lastSeq;
  return {
    text: first ? state.base + event.delta : state.text + event.delta,
    base: state.base,
    cursor: event.cursor,
    lastSeq: event.seq,
    status: event.status,
    tokenCount: event.tokenCount,
    error: event.error,
    events: state.events + 1,
  };
}

/**
 * The state to follow a story again with, after it ended at `ended` and was then continued: the
 * next subscription starts after the end's cursor, its status unknown again. Only when the text
 * shown is still the text at that end (shown: null when unknown); otherwise from the beginning.
 */
export function resumeAfterEnd(ended: StreamState, shown: string | null): StreamState {
  if (ended.cursor === null || (shown !== null && shown !== ended.text)) return emptyStream;
  return { ...ended, status: null, error: null, lastSeq: null };
}
