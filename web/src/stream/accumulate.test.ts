import { describe, expect, it } from 'vitest';
import type { StoryEvent } from '../graphql/operations';
import { applyEvent, emptyStream } from './accumulate';

const event = (seq: number, delta: string, status: StoryEvent['status'] = 'GENERATING'): StoryEvent => ({
  storyID: 's',
  seq,
  delta,
  status,
  tokenCount: seq,
  error: null,
});

describe('applyEvent', () => {
  it('concatenates the deltas of one subscription', () => {
    const state = [event(0, 'All so far.'), event(1, ' More'), event(2, ' and more.', 'COMPLETED')].reduce(applyEvent, emptyStream);
    expect(state).toEqual({ text: 'All so far. More and more.', lastSeq: 2, status: 'COMPLETED', tokenCount: 2, error: null, events: 3 });
  });

  it('takes the first event as the whole text, whatever was shown before', () => {
    expect(applyEvent({ ...emptyStream, text: 'stale' }, event(5, 'fresh')).text).toBe('fresh');
  });

  it('replaces the text when seq does not rise (a new subscription)', () => {
    const state = [event(1, 'a'), event(2, 'b'), event(1, 'abc'), event(2, 'd')].reduce(applyEvent, emptyStream);
    expect(state.text).toBe('abcd');
    expect(state.events).toBe(4);
  });

  it('keeps the error of a failed story', () => {
    const failed = applyEvent(emptyStream, { ...event(0, 'x', 'FAILED'), error: 'interrupted' });
    expect(failed).toMatchObject({ status: 'FAILED', error: 'interrupted' });
  });
});
