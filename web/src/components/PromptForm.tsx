import { useMutation } from '@apollo/client/react';
import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { addPrompt } from '../graphql/cacheUpdates';
import { CREATE_PROMPT, type Prompt } from '../graphql/operations';
import { useToast } from '../toast/toast';
import { PromptField } from './PromptField';

/** The form that adds a prompt. An empty prompt gets a warning and is not sent. */
export function PromptForm({ onCreated }: { onCreated(prompt: Prompt): void }) {
  const toast = useToast();
  const [content, setContent] = useState('');
  const [warning, setWarning] = useState<string | null>(null);
  const textarea = useRef<HTMLTextAreaElement>(null);
  const ids = { field: useId(), warning: useId() };
  const [createPrompt, { loading }] = useMutation(CREATE_PROMPT, {
    update(cache, { data }) {
      if (data) addPrompt(cache, data.createPrompt);
    },
  });

  async function submit(event?: FormEvent) {
    event?.preventDefault();
    if (loading) return;
    const trimmed = content.trim();
    if (trimmed === '') {
      setWarning('Write a prompt first: an empty prompt cannot become a story.');
      textarea.current?.focus();
      return;
    }
    setWarning(null);
    try {
      const { data } = await createPrompt({ variables: { content: trimmed } });
      if (!data) return;
      setContent('');
      toast.success('Prompt added.');
      onCreated(data.createPrompt);
    } catch (error) {
      toast.error('Could not add the prompt', error);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) void submit(event);
  }

  return (
    <form className="card prompt-form" onSubmit={submit} noValidate aria-label="Add a prompt">
      <label htmlFor={ids.field} className="field-label">
        New prompt
      </label>
      <PromptField
        id={ids.field}
        textareaRef={textarea}
        value={content}
        onChange={(next) => {
          setContent(next);
          if (warning && next.trim() !== '') setWarning(null);
        }}
        placeholder="A lighthouse keeper finds a letter addressed to the sea…"
        invalid={warning !== null}
        describedBy={warning ? ids.warning : undefined}
        onKeyDown={onKeyDown}
        hint="Ctrl+Enter adds it"
        actions={
          <button type="submit" className="button primary" aria-disabled={loading || undefined}>
            {loading ? 'Adding…' : 'Add prompt'}
          </button>
        }
      />
      {warning && (
        <p id={ids.warning} className="warning" role="alert">
          {warning}
        </p>
      )}
    </form>
  );
}
