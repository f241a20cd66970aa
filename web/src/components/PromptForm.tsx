import { useMutation } from '@apollo/client/react';
import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { addPrompt } from '../graphql/cacheUpdates';
import { CREATE_PROMPT, type Prompt } from '../graphql/operations';
import { changes, problemWith, rememberDraft, rememberedDraft, type OptionsDraft } from '../lib/storyOptions';
import { useToast } from '../toast/toast';
import { PromptField } from './PromptField';
import { OptionsSummary, StoryOptionsFields } from './StoryOptionsFields';

/**
 * The form that adds a prompt, with its story options (defaults for its stories): those of the
 * last prompt added, remembered in localStorage. An empty prompt gets a warning and is not sent.
 */
export function PromptForm({ onCreated }: { onCreated(prompt: Prompt): void }) {
  const toast = useToast();
  const [content, setContent] = useState('');
  const [warning, setWarning] = useState<string | null>(null);
  const [options, setOptions] = useState<OptionsDraft>(rememberedDraft);
  const [optionsProblem, setOptionsProblem] = useState<string | null>(null);
  const [optionsOpen, setOptionsOpen] = useState(false);
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
    const problem = problemWith(options);
    setOptionsProblem(problem);
    if (problem) {
      setOptionsOpen(true);
      return;
    }
    const chosen = changes(options, null);
    try {
      const { data } = await createPrompt({ variables: chosen ? { content: trimmed, options: chosen } : { content: trimmed } });
      if (!data) return;
      setContent('');
      rememberDraft(options);
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
      <details className="options-panel" open={optionsOpen} onToggle={(e) => setOptionsOpen(e.currentTarget.open)}>
        <summary>
          Story options: <OptionsSummary options={options} none="none (the server's defaults)" className="" />
        </summary>
        <StoryOptionsFields
          legend="Defaults for this prompt's stories"
          value={options}
          onChange={(next) => {
            setOptions(next);
            if (optionsProblem) setOptionsProblem(problemWith(next));
          }}
          problem={optionsProblem}
        />
      </details>
    </form>
  );
}
