import { useId, useState, type ElementType } from 'react';
import { charCount } from './PromptField';

/** Props of LongText. */
export interface LongTextProps {
  text: string;
  /** Lines shown while collapsed (2 or 6). */
  lines: 2 | 6;
  /** Longer than this many characters, or with more lines than shown, the text collapses. */
  collapseOver: number;
  /** What holds the text ('blockquote' for a prompt's page). */
  as?: ElementType;
  className?: string;
  /** What the button shows more of, for its accessible name ("prompt"). */
  what: string;
}

/** Reports whether a text is long enough to show collapsed. */
export function isLong(text: string, collapseOver: number, lines: number): boolean {
  return charCount(text) > collapseOver || text.split('\n').length > lines;
}

/**
 * A text that may be long (a prompt holds up to 4,000 characters): past a few lines it shows
 * collapsed, with a "Show more" button that opens it in place and "Show less" that closes it.
 */
export function LongText({ text, lines, collapseOver, as: Tag = 'p', className = '', what }: LongTextProps) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const long = isLong(text, collapseOver, lines);
  const collapsed = long && !open;
  return (
    <>
      <Tag id={id} className={`${className} long-text${collapsed ? ` clamp-${lines}` : ''}`} data-collapsed={collapsed || undefined}>
        {text}
      </Tag>
      {long && (
        <button type="button" className="link-button" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
          {open ? 'Show less' : 'Show more'}{' '}
          <span className="sr-only">of the {what}</span>
        </button>
      )}
    </>
  );
}

/** A prompt on its own page (or a share link's): six lines of a long one until "Show more". */
export function PromptQuote({ text }: { text: string }) {
  return <LongText as="blockquote" className="prompt-quote" text={text} lines={6} collapseOver={600} what="prompt" />;
}
