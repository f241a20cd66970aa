import { useId, useLayoutEffect, useRef, useState, type ClipboardEvent, type KeyboardEvent, type ReactNode, type Ref } from 'react';

/** The longest prompt the API accepts, in characters (Unicode code points, as the server counts). */
export const MAX_PROMPT_LENGTH = 4000;

/** From this many characters on, the counter warns that the limit is near. */
export const PROMPT_WARN_AT = 3600;

/** Characters as the server counts them: code points, so an emoji is one, not two. */
export function charCount(text: string): number {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

/** The first n characters (code points) of a text. */
export function firstChars(text: string, n: number): string {
  if (n <= 0) return '';
  let end = 0;
  let count = 0;
  for (const ch of text) {
    if (count === n) break;
    end += ch.length;
    count++;
  }
  return text.slice(0, end);
}

const number = new Intl.NumberFormat('en-US');

/** "1,234". */
export function formatCount(n: number): string {
  return number.format(n);
}

type Level = 'ok' | 'near' | 'full';

function levelOf(count: number): Level {
  if (count >= MAX_PROMPT_LENGTH) return 'full';
  return count >= PROMPT_WARN_AT ? 'near' : 'ok';
}

/** Props of PromptField. */
export interface PromptFieldProps {
  /** The textarea's id, for its label. */
  id: string;
  value: string;
  onChange(value: string): void;
  textareaRef?: Ref<HTMLTextAreaElement>;
  /** Ids of more descriptions (a warning of the form). */
  describedBy?: string;
  invalid?: boolean;
  rows?: number;
  placeholder?: string;
  /** Words after the counter, e.g. "Ctrl+Enter adds it". */
  hint?: ReactNode;
  /** Buttons at the end of the counter's row. */
  actions?: ReactNode;
  onKeyDown?(event: KeyboardEvent<HTMLTextAreaElement>): void;
  autoFocus?: boolean;
}

/**
 * The text of a prompt, written or edited: a textarea with a character counter that warns
 * before the limit, and that cuts what would go over it, saying so (a paste that did not fit
 * is the usual case). Nothing is cut silently.
 */
export function PromptField({ id, value, onChange, textareaRef, describedBy, invalid, rows = 3, placeholder, hint, actions, onKeyDown, autoFocus }: PromptFieldProps) {
  const ids = { counter: useId(), cut: useId() };
  const [cut, setCut] = useState<string | null>(null);
  const count = charCount(value);
  const level = levelOf(count);
  // Where the caret goes once a cut paste is in the textarea.
  const caret = useRef<{ el: HTMLTextAreaElement; at: number } | null>(null);
  useLayoutEffect(() => {
    if (!caret.current) return;
    const { el, at } = caret.current;
    caret.current = null;
    el.setSelectionRange(at, at);
  });

  function onPaste(event: ClipboardEvent<HTMLTextAreaElement>) {
    const pasted = event.clipboardData.getData('text/plain');
    if (!pasted) return;
    const el = event.currentTarget;
    const before = el.value.slice(0, el.selectionStart);
    const after = el.value.slice(el.selectionEnd);
    const room = MAX_PROMPT_LENGTH - charCount(before) - charCount(after);
    const size = charCount(pasted);
    if (size <= room) {
      setCut(null);
      return;
    }
    event.preventDefault();
    const kept = firstChars(pasted, room);
    caret.current = { el, at: before.length + kept.length };
    onChange(before + kept + after);
    setCut(
      room <= 0
        ? `Nothing was pasted: the prompt already has the most characters a prompt may have (${formatCount(MAX_PROMPT_LENGTH)}).`
        : `The pasted text was too long, so it was cut: only its first ${formatCount(charCount(kept))} of ${formatCount(size)} characters were added. A prompt may have at most ${formatCount(MAX_PROMPT_LENGTH)}.`,
    );
  }

  function onInput(next: string) {
    const size = charCount(next);
    if (size <= MAX_PROMPT_LENGTH) {
      setCut(null);
      onChange(next);
      return;
    }
    // Typed, dropped or otherwise inserted past the limit: the end goes.
    onChange(firstChars(next, MAX_PROMPT_LENGTH));
    if (size - MAX_PROMPT_LENGTH > 1) {
      setCut(`The text was cut to ${formatCount(MAX_PROMPT_LENGTH)} characters, the most a prompt may have: ${formatCount(size - MAX_PROMPT_LENGTH)} characters at its end were left out.`);
    }
  }

  const left = MAX_PROMPT_LENGTH - count;
  const describedByAll = [ids.counter, cut ? ids.cut : '', describedBy ?? ''].filter(Boolean).join(' ');

  return (
    <>
      <textarea
        id={id}
        ref={textareaRef}
        value={value}
        rows={rows}
        placeholder={placeholder}
        aria-invalid={invalid ? true : undefined}
        aria-describedby={describedByAll}
        onChange={(event) => onInput(event.target.value)}
        onPaste={onPaste}
        onKeyDown={onKeyDown}
        autoFocus={autoFocus}
      />
      <div className="form-row">
        <span id={ids.counter} className="hint">
          <span className={`counter counter-${level}`} data-testid="char-counter" data-level={level}>
            {formatCount(count)} / {formatCount(MAX_PROMPT_LENGTH)} characters
            {level === 'near' && ` · ${formatCount(left)} left`}
            {level === 'full' && ' · limit reached'}
          </span>
          {hint && <> · {hint}</>}
        </span>
        {actions}
      </div>
      {/* Announced when the limit comes near or is reached, not at every keystroke. */}
      <span className="sr-only" aria-live="polite">
        {level === 'near' ? `Fewer than ${formatCount(MAX_PROMPT_LENGTH - PROMPT_WARN_AT)} characters left.` : level === 'full' ? 'Character limit reached.' : ''}
      </span>
      {cut && (
        <p id={ids.cut} className="warning" role="alert" data-testid="cut-warning">
          {cut}
        </p>
      )}
    </>
  );
}
