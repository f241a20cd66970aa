import { useEffect, useId, useRef, useState } from 'react';

/** Props of CopyField. */
export interface CopyFieldProps {
  label: string;
  value: string;
  /** The button's words, e.g. "Copy link". */
  copyLabel: string;
}

/**
 * A read-only text with a button that copies it. Where the browser gives no clipboard (a page
 * not served over HTTPS or from localhost), the text is selected for Ctrl+C instead.
 */
export function CopyField({ label, value, copyLabel }: CopyFieldProps) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<'idle' | 'copied' | 'select'>('idle');

  useEffect(() => {
    if (state !== 'copied') return;
    const timer = setTimeout(() => setState('idle'), 2_000);
    return () => clearTimeout(timer);
  }, [state]);

  async function copy() {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      input.current?.focus();
      input.current?.select();
      setState('select');
    }
  }

  return (
    <div className="copy-field">
      <label htmlFor={id} className="field-label">
        {label}
      </label>
      <div className="copy-row">
        <input id={id} ref={input} className="text-input mono" readOnly value={value} onFocus={(event) => event.target.select()} />
        <button type="button" className="button" onClick={() => void copy()}>
          {state === 'copied' ? 'Copied' : copyLabel}
        </button>
      </div>
      <p className="sr-only" role="status">
        {state === 'copied' ? 'Copied to the clipboard.' : ''}
      </p>
      {state === 'select' && <p className="hint">Your browser did not allow copying: the text is selected, press Ctrl+C.</p>}
    </div>
  );
}
