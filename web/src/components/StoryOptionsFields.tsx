import { useId } from 'react';
import { AUDIENCES, LANGUAGE_SUGGESTIONS, LENGTHS, MAX_WORDS_LENGTH, describeOptions, type OptionsDraft } from '../lib/storyOptions';

/** Props of StoryOptionsFields. */
export interface StoryOptionsFieldsProps {
  value: OptionsDraft;
  onChange(next: OptionsDraft): void;
  /** The fieldset's legend: what these options are for. */
  legend: string;
  /** What "no preference" means here: the server's default, or the prompt's. */
  unsetLabel?: string;
  /** A problem to show under the fields (and to describe them with). */
  problem?: string | null;
}

/**
 * The five story options (audience, genre, tone, length, language), each labelled, in a
 * fieldset. Every one may be left at "no preference".
 */
export function StoryOptionsFields({ value, onChange, legend, unsetLabel = 'No preference', problem }: StoryOptionsFieldsProps) {
  const id = useId();
  const ids = {
    audience: `${id}-audience`,
    genre: `${id}-genre`,
    tone: `${id}-tone`,
    length: `${id}-length`,
    language: `${id}-language`,
    languages: `${id}-languages`,
    problem: `${id}-problem`,
  };
  const set = <K extends keyof OptionsDraft>(key: K, next: OptionsDraft[K]) => onChange({ ...value, [key]: next });
  const describedBy = problem ? ids.problem : undefined;

  return (
    <fieldset className="story-options" aria-describedby={describedBy}>
      <legend className="field-label">{legend}</legend>
      <div className="options-grid">
        <div className="field">
          <label htmlFor={ids.audience}>Audience</label>
          <select id={ids.audience} className="text-input" value={value.audience} onChange={(e) => set('audience', e.target.value as OptionsDraft['audience'])}>
            <option value="">{unsetLabel}</option>
            {AUDIENCES.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.length}>Length</label>
          <select id={ids.length} className="text-input" value={value.length} onChange={(e) => set('length', e.target.value as OptionsDraft['length'])}>
            <option value="">{unsetLabel}</option>
            {LENGTHS.map((l) => (
              <option key={l.value} value={l.value}>
                {l.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.genre}>Genre</label>
          <input
            id={ids.genre}
            className="text-input"
            value={value.genre}
            maxLength={MAX_WORDS_LENGTH}
            placeholder="fairy tale, mystery…"
            onChange={(e) => set('genre', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.tone}>Tone</label>
          <input
            id={ids.tone}
            className="text-input"
            value={value.tone}
            maxLength={MAX_WORDS_LENGTH}
            placeholder="gentle, suspenseful…"
            onChange={(e) => set('tone', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={ids.language}>Language</label>
          <input
            id={ids.language}
            className="text-input"
            value={value.language}
            list={ids.languages}
            placeholder="en, zh-TW, pt-BR…"
            autoCapitalize="off"
            autoCorrect="off"
            spellCheck={false}
            aria-invalid={problem && /language/i.test(problem) ? true : undefined}
            onChange={(e) => set('language', e.target.value)}
          />
          <datalist id={ids.languages}>
            {LANGUAGE_SUGGESTIONS.map((l) => (
              <option key={l.tag} value={l.tag}>
                {l.name}
              </option>
            ))}
          </datalist>
        </div>
      </div>
      {problem && (
        <p id={ids.problem} className="warning" role="alert">
          {problem}
        </p>
      )}
    </fieldset>
  );
}

/** Options as one line for a reader: "for children · fairy tale · short", or the fallback. */
export function OptionsSummary({ options, none = 'no particular options', className = 'muted small' }: { options: Parameters<typeof describeOptions>[0]; none?: string; className?: string }) {
  const parts = describeOptions(options);
  return (
    <span className={className} data-testid="options-summary">
      {parts.length ? parts.join(' · ') : none}
    </span>
  );
}
