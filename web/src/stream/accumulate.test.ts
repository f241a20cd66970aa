import { describe, expect, it } from 'vitest';
import type { StoryEvent } from '../graphql/operations';
import { applyEvent, emptyStream, resumeAfterEnd, startSubscription, type StreamState } from './accumulate';

const event = (seq: number, delta: string, status: StoryEvent['status'] = 'GENERATING', cursor = `c${seq}`): StoryEvent => ({
  __typename: 'StoryEvent',
  storyID: 's',
  seq,
  delta,
  status,
  tokenCount: seq,
  error: null,
  cursor,
});

const apply = (state: StreamState, events: StoryEvent[]) => events.reduce(applyEvent, state);

const story = ['Once', ' upon', ' a', ' time', ' there', ' was', ' a', ' lighthouse.'];

// The events the server sends a subscription of `story` (a piece a token) until the connection
// drops after piece `upTo`. Made after cursor `at<n>` (the position after n pieces), one event per
// piece from there; from the beginning, a first event holding the first `joined` pieces (all the
// text so far), then one per piece. With nothing to send, one empty event. Each event's cursor is
// the position after it, and the one with the last piece is COMPLETED.
function serve(after: string | null, upTo = story.length, joined = 1): StoryEvent[] {
  const pieces: Array<[string, number]> = [];
  if (after === null) pieces.push([story.slice(0, joined).join(''), joined]);
  for (let i = after === null ? joined : Number(after.slice(2)); i < upTo; i++) pieces.push([story[i]!, i + 1]);
  if (pieces.length === 0) pieces.push(['', Number(after?.slice(2) ?? 0)]);
  return pieces.map(([delta, at], i) => event(i + 1, delta, at === story.length ? 'COMPLETED' : 'GENERATING', `at${at}`));
}

describe('applyEvent', () => {
  it('concatenates the deltas of one subscription', () => {
    const state = apply(emptyStream, [event(1, 'All so far.'), event(2, ' More'), event(3, ' and more.', 'COMPLETED')]);
    expect(state).toEqual({
      text: 'All so far. More and more.',
      base: '',
      cursor: 'c3',
      lastSeq: 3,
      status: 'COMPLETED',
      tokenCount: 3,
      error: null,
      events: 3,
    });
  });

  it('takes the first event of a subscription from the beginning as the whole text, whatever was shown before', () => {
    expect(applyEvent({ ...emptyStream, text: 'stale' }, event(5, 'fresh')).text).toBe('fresh');
  });

  it('keeps the error of a failed story', () => {
    const failed = applyEvent(emptyStream, { ...event(1, 'x', 'FAILED'), error: 'interrupted' });
    expect(failed).toMatchObject({ status: 'FAILED', error: 'interrupted' });
  });
});

describe('startSubscription', () => {
  it('starts from the beginning before any event, whatever is asked', () => {
    expect(startSubscription(emptyStream, true)).toEqual({ after: null, state: emptyStream });
  });

  it('resumes after the cursor of the last event applied, and the text goes on from there', () => {
    const before = apply(emptyStream, [event(1, 'Once', 'GENERATING', 'at1'), event(2, ' upon', 'GENERATING', 'at2')]);
    const { after, state } = startSubscription(before, true);
    expect(after).toBe('at2');
    // Nothing changes on the screen while the new subscription is made.
    expect(state.text).toBe('Once upon');
    const resumed = apply(state, [event(1, ' a', 'GENERATING', 'at3'), event(2, ' time', 'GENERATING', 'at4')]);
    expect(resumed).toMatchObject({ text: 'Once upon a time', cursor: 'at4', lastSeq: 2, events: 4 });
  });

  it('gives exactly the story, whichever event the connection drops after, however often', () => {
    const whole = story.join('');
    for (let cut = 1; cut < story.length; cut++) {
      for (let second = cut; second <= story.length; second++) {
        // A fresh subscription that joined late, two drops, then to the end.
        let state = apply(emptyStream, serve(null, cut, Math.ceil(cut / 2)));
        let next = startSubscription(state, true);
        state = apply(next.state, serve(next.after, second));
        next = startSubscription(state, true);
        const events = serve(next.after);
        // What the reader sees never shrinks: each event only adds to the text.
        let shown = state.text;
        state = next.state;
        for (const e of events) {
          state = applyEvent(state, e);
          expect(state.text.startsWith(shown)).toBe(true);
          shown = state.text;
        }
        expect({ cut, second, text: state.text, status: state.status }).toEqual({ cut, second, text: whole, status: 'COMPLETED' });
      }
    }
  });

  it('resumes a finished story with one empty event and its final status', () => {
    const done = apply(emptyStream, serve(null));
    const { after, state } = startSubscription(done, true);
    expect(after).toBe(`at${story.length}`);
    const again = apply(state, serve(after));
    expect(again).toMatchObject({ text: story.join(''), status: 'COMPLETED' });
  });

  it('starts from the beginning when asked (a refused cursor): the first event replaces the text', () => {
    const held = apply(emptyStream, [event(1, 'Once', 'GENERATING', 'at1'), event(2, ' upon', 'GENERATING', 'at2')]);
    const { after, state } = startSubscription(held, false);
    expect(after).toBeNull();
    expect(state).toMatchObject({ text: 'Once upon', base: '', cursor: null, lastSeq: null });
    // Asked to resume before the fresh subscription's first event, there is no cursor to use.
    expect(startSubscription(state, true).after).toBeNull();
    const fresh = apply(state, [event(1, 'Once upon a', 'GENERATING', 'at3'), event(2, ' time', 'GENERATING', 'at4')]);
    expect(fresh).toMatchObject({ text: 'Once upon a time', cursor: 'at4' });
  });

  it('stays exact when graphql-ws sends the same subscription again: seq starts over after the same cursor', () => {
    const held = apply(emptyStream, [event(1, 'Once', 'GENERATING', 'at1')]);
    const { after, state } = startSubscription(held, true);
    expect(after).toBe('at1');
    // Two events, then the same subscription (after at1) again: its first event holds all since at1.
    const twice = apply(state, [event(1, ' upon', 'GENERATING', 'at2'), event(2, ' a', 'GENERATING', 'at3'), event(1, ' upon a time', 'GENERATING', 'at4')]);
    expect(twice.text).toBe('Once upon a time');
    // From the beginning, the same holds: the repeated first event replaces the text.
    const fresh = apply(emptyStream, [event(1, 'a'), event(2, 'b'), event(1, 'abc'), event(2, 'd')]);
    expect(fresh.text).toBe('abcd');
  });

  it('follows a continued story after the end it saw, appending the continuation; from the beginning if the text shown moved on', () => {
    const ended = apply(emptyStream, [event(1, 'Once upon', 'GENERATING', 'at1'), event(2, ' a time.', 'COMPLETED', 'at2')]);
    const again = resumeAfterEnd(ended, 'Once upon a time.');
    expect(again).toMatchObject({ text: 'Once upon a time.', cursor: 'at2', status: null, lastSeq: null });
    const { after, state } = startSubscription(again, true);
    expect(after).toBe('at2');
    const continued = apply(state, [event(1, ' Then', 'PENDING', 'at3'), event(2, ' more.', 'COMPLETED', 'at4')]);
    expect(continued).toMatchObject({ text: 'Once upon a time. Then more.', status: 'COMPLETED', cursor: 'at4' });
    // The text shown is not the end's any more (it was continued elsewhere meanwhile): start over.
    expect(resumeAfterEnd(ended, 'Once upon a time. Elsewhere.')).toBe(emptyStream);
    expect(resumeAfterEnd(emptyStream, null)).toBe(emptyStream);
  });
});
