import { afterEach, describe, expect, it } from 'vitest';
import {
  REMEMBERED_KEY,
  changes,
  describeOptions,
  draftFrom,
  emptyDraft,
  isEmptyDraft,
  problemWith,
  rememberDraft,
  rememberedDraft,
  toInput,
} from './storyOptions';

const stored = { __typename: 'StoryOptions', audience: 'CHILDREN', genre: 'fairy tale', tone: null, length: 'SHORT', language: 'zh-TW' } as const;

describe('story options', () => {
  afterEach(() => localStorage.clear());

  it('turns a draft into input: trimmed, one line, empty fields null', () => {
    expect(toInput({ audience: '', genre: '  fairy\n tale ', tone: ' ', length: 'LONG', language: ' en ' })).toEqual({
      audience: null,
      genre: 'fairy tale',
      tone: null,
      length: 'LONG',
      language: 'en',
    });
    expect(isEmptyDraft(emptyDraft)).toBe(true);
    expect(isEmptyDraft({ ...emptyDraft, tone: '  ' })).toBe(true);
    expect(isEmptyDraft({ ...emptyDraft, length: 'SHORT' })).toBe(false);
  });

  it('sends only what differs from the base, null for a cleared field, nothing when nothing changed', () => {
    const draft = draftFrom(stored);
    expect(changes(draft, stored)).toBeNull();
    expect(changes({ ...draft, tone: 'gentle' }, stored)).toEqual({ tone: 'gentle' });
    expect(changes({ ...draft, genre: '', audience: 'TEENS' }, stored)).toEqual({ genre: null, audience: 'TEENS' });
    expect(changes({ ...draft, genre: ' fairy tale ' }, stored)).toBeNull();
    // A new prompt: its base is no options at all.
    expect(changes(emptyDraft, null)).toBeNull();
    expect(changes({ ...emptyDraft, length: 'SHORT' }, null)).toEqual({ length: 'SHORT' });
  });

  it('finds an over-long genre or tone and a malformed language tag before sending', () => {
    expect(problemWith(draftFrom(stored))).toBeNull();
    expect(problemWith({ ...emptyDraft, genre: 'x'.repeat(61) })).toMatch(/Genre is too long: at most 60/);
    expect(problemWith({ ...emptyDraft, tone: '語'.repeat(60) })).toBeNull();
    expect(problemWith({ ...emptyDraft, language: 'not a tag!' })).toMatch(/is not a language tag/);
    expect(problemWith({ ...emptyDraft, language: 'pt-BR' })).toBeNull();
  });

  it('describes options for a reader', () => {
    expect(describeOptions(stored)).toEqual(['for children', 'fairy tale', 'short', 'in Chinese (Taiwan) (zh-TW)']);
    expect(describeOptions({ ...emptyDraft, tone: 'gentle', language: 'fr-CA' })).toEqual(['gentle tone', 'in Canadian French (fr-CA)']);
    expect(describeOptions(null)).toEqual([]);
  });

  it('remembers the options of the last new prompt, and ignores what it cannot read', () => {
    expect(rememberedDraft()).toEqual(emptyDraft);
    const draft = { ...draftFrom(stored), tone: 'gentle' };
    rememberDraft(draft);
    expect(rememberedDraft()).toEqual(draft);
    // No preference at all forgets them.
    rememberDraft(emptyDraft);
    expect(localStorage.getItem(REMEMBERED_KEY)).toBeNull();
    localStorage.setItem(REMEMBERED_KEY, '{"audience":"GIANTS","genre":42,"length":"SHORT"}');
    expect(rememberedDraft()).toEqual({ ...emptyDraft, length: 'SHORT' });
    localStorage.setItem(REMEMBERED_KEY, 'not json');
    expect(rememberedDraft()).toEqual(emptyDraft);
  });
});
