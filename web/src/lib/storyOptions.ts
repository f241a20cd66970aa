import type { Audience, StoryLength, StoryOptions, StoryOptionsInput } from '../graphql/operations';

// Story options as the forms edit them: every field a string, '' for "no preference" (the
// server's default). The API's StoryOptions has null for those.

/** Story options being edited: '' is no preference. */
export interface OptionsDraft {
  audience: Audience | '';
  genre: string;
  tone: string;
  length: StoryLength | '';
  language: string;
}

/** No preference at all: the server's defaults (a story of about 600 tokens, for anyone). */
export const emptyDraft: OptionsDraft = { audience: '', genre: '', tone: '', length: '', language: '' };

export const AUDIENCES: ReadonlyArray<{ value: Audience; label: string }> = [
  { value: 'CHILDREN', label: 'Children' },
  { value: 'TEENS', label: 'Teens' },
  { value: 'ADULTS', label: 'Adults' },
];

export const LENGTHS: ReadonlyArray<{ value: StoryLength; label: string }> = [
  { value: 'SHORT', label: 'Short (about 300 tokens)' },
  { value: 'MEDIUM', label: 'Medium (about 600 tokens)' },
  { value: 'LONG', label: 'Long (about 1,200 tokens)' },
];

/** Languages offered as suggestions; any BCP 47 tag may be typed. */
export const LANGUAGE_SUGGESTIONS: ReadonlyArray<{ tag: string; name: string }> = [
  { tag: 'en', name: 'English' },
  { tag: 'zh-TW', name: 'Chinese (Taiwan), 繁體中文' },
  { tag: 'zh-CN', name: 'Chinese (China), 简体中文' },
  { tag: 'ja', name: 'Japanese, 日本語' },
  { tag: 'ko', name: 'Korean, 한국어' },
  { tag: 'es', name: 'Spanish, español' },
  { tag: 'fr', name: 'French, français' },
  { tag: 'de', name: 'German, Deutsch' },
  { tag: 'pt-BR', name: 'Portuguese (Brazil), português' },
  { tag: 'ar', name: 'Arabic, العربية' },
  { tag: 'he', name: 'Hebrew, עברית' },
  { tag: 'hi', name: 'Hindi, हिन्दी' },
];

/** The longest genre or tone the server takes, in characters. */
export const MAX_WORDS_LENGTH = 60;

const audiences = new Set<string>(AUDIENCES.map((a) => a.value));
const lengths = new Set<string>(LENGTHS.map((l) => l.value));

/** The draft that shows options as they are stored. */
export function draftFrom(options: StoryOptions | null | undefined): OptionsDraft {
  return {
    audience: options?.audience ?? '',
    genre: options?.genre ?? '',
    tone: options?.tone ?? '',
    length: options?.length ?? '',
    language: options?.language ?? '',
  };
}

// A one-line value as the server keeps it: runs of white space become one space, trimmed.
function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/** Every option of a draft, ready to send: '' becomes null (no preference). */
export function toInput(draft: OptionsDraft): Required<StoryOptionsInput> {
  return {
    audience: draft.audience || null,
    genre: oneLine(draft.genre) || null,
    tone: oneLine(draft.tone) || null,
    length: draft.length || null,
    language: draft.language.trim() || null,
  };
}

/** True when a draft asks for nothing in particular. */
export function isEmptyDraft(draft: OptionsDraft): boolean {
  return Object.values(toInput(draft)).every((v) => v === null);
}

/**
 * What a draft changes over base: only the fields that differ (null for one cleared), or null
 * when it changes nothing, so that a request without changes carries no options at all.
 */
export function changes(draft: OptionsDraft, base: StoryOptions | null | undefined): StoryOptionsInput | null {
  const wanted = toInput(draft);
  const was = toInput(draftFrom(base));
  const out: StoryOptionsInput = {};
  let any = false;
  for (const key of Object.keys(wanted) as Array<keyof typeof wanted>) {
    if (wanted[key] !== was[key]) {
      (out as Record<string, unknown>)[key] = wanted[key];
      any = true;
    }
  }
  return any ? out : null;
}

/**
 * What is wrong with a draft before it is sent, or null: a genre or tone too long, a language
 * that is no BCP 47 tag. The server checks again (and more strictly: the tag must name a
 * language it knows).
 */
export function problemWith(draft: OptionsDraft): string | null {
  const input = toInput(draft);
  for (const [name, value] of [['Genre', input.genre], ['Tone', input.tone]] as const) {
    if (value && [...value].length > MAX_WORDS_LENGTH) return `${name} is too long: at most ${MAX_WORDS_LENGTH} characters.`;
  }
  if (input.language) {
    try {
      Intl.getCanonicalLocales(input.language);
    } catch {
      return `"${input.language}" is not a language tag: try en, zh-TW or pt-BR.`;
    }
  }
  return null;
}

function nameOf(tag: string): string {
  const known = LANGUAGE_SUGGESTIONS.find((l) => l.tag.toLowerCase() === tag.toLowerCase());
  if (known) return known.name.split(',')[0]!;
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}

/** Options as short phrases for a reader ("for children", "fairy tale", "short", "in English (en)"). */
export function describeOptions(options: StoryOptions | OptionsDraft | null | undefined): string[] {
  if (!options) return [];
  const out: string[] = [];
  const audience = options.audience ? AUDIENCES.find((a) => a.value === options.audience)?.label : undefined;
  if (audience) out.push(`for ${audience.toLowerCase()}`);
  if (options.genre?.trim()) out.push(oneLine(options.genre));
  if (options.tone?.trim()) out.push(`${oneLine(options.tone)} tone`);
  if (options.length) out.push(options.length.toLowerCase());
  if (options.language?.trim()) out.push(`in ${nameOf(options.language.trim())} (${options.language.trim()})`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The options of the last prompt added, kept for the next one.

/** The localStorage key of the options last used for a new prompt. */
export const REMEMBERED_KEY = 'storybot.storyOptions';

function storage(): Storage | null {
  try {
    return typeof window === 'undefined' ? null : window.localStorage;
  } catch {
    return null; // storage disabled
  }
}

/** The options last used for a new prompt, or none; anything unreadable is ignored. */
export function rememberedDraft(): OptionsDraft {
  const raw = storage()?.getItem(REMEMBERED_KEY);
  if (!raw) return emptyDraft;
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    const str = (key: string) => (typeof parsed[key] === 'string' ? (parsed[key] as string) : '');
    const audience = str('audience');
    const length = str('length');
    return {
      audience: audiences.has(audience) ? (audience as Audience) : '',
      genre: str('genre').slice(0, MAX_WORDS_LENGTH * 2),
      tone: str('tone').slice(0, MAX_WORDS_LENGTH * 2),
      length: lengths.has(length) ? (length as StoryLength) : '',
      language: str('language').slice(0, 35),
    };
  } catch {
    return emptyDraft;
  }
}

/** Keeps a draft for the next new prompt (no preference at all forgets it). */
export function rememberDraft(draft: OptionsDraft): void {
  const store = storage();
  if (!store) return;
  try {
    if (isEmptyDraft(draft)) store.removeItem(REMEMBERED_KEY);
    else store.setItem(REMEMBERED_KEY, JSON.stringify(draft));
  } catch {
    // full or disabled: the options are simply not remembered
  }
}
