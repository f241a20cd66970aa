import { useEffect, useRef } from 'react';
import { PromptDetail } from '../components/PromptDetail';
import { PromptForm } from '../components/PromptForm';
import { PromptList } from '../components/PromptList';
import type { Prompt } from '../graphql/operations';
import { useSelection } from '../lib/selection';

// Below this width the panes stack, so opening a prompt moves focus (and the view) to it.
const narrowScreen = '(max-width: 799px)';

function focusPromptButton(id: string): boolean {
  for (const item of document.querySelectorAll<HTMLElement>('[data-prompt-id]')) {
    if (item.dataset.promptId === id) {
      item.querySelector<HTMLElement>('.prompt-open')?.focus();
      return true;
    }
  }
  return false;
}

/** The signed-in user's prompts on one side, the open prompt and its stories on the other. */
export function PromptsPage() {
  const [selection, select] = useSelection();
  const focusDetail = useRef(false);

  useEffect(() => {
    if (!focusDetail.current) return;
    focusDetail.current = false;
    document.getElementById('detail-heading')?.focus();
  });

  function openPrompt(prompt: Prompt) {
    focusDetail.current = window.matchMedia?.(narrowScreen).matches ?? false;
    select({ promptId: prompt.id, storyId: null });
  }

  function onDeleted(id: string, next: Prompt | null) {
    if (selection.promptId === id) select({ promptId: null, storyId: null });
    requestAnimationFrame(() => {
      if (!next || !focusPromptButton(next.id)) document.getElementById('prompts-heading')?.focus();
    });
  }

  // The open prompt is gone (deleted in another tab): close it; the toast says why.
  function onGone() {
    select({ promptId: null, storyId: null });
    requestAnimationFrame(() => document.getElementById('prompts-heading')?.focus());
  }

  return (
    <main id="main" className="layout">
      <div className="pane pane-prompts">
        <PromptForm onCreated={(prompt) => select({ promptId: prompt.id, storyId: null })} />
        <PromptList selectedId={selection.promptId} onSelect={openPrompt} onDeleted={onDeleted} />
      </div>
      <div className="pane pane-detail">
        {selection.promptId ? (
          <PromptDetail
            key={selection.promptId}
            promptId={selection.promptId}
            storyId={selection.storyId}
            onSelectStory={(storyId) => select({ promptId: selection.promptId, storyId })}
            onGone={onGone}
          />
        ) : (
          <section className="card empty-state" aria-labelledby="welcome-heading">
            <h2 id="welcome-heading">Write a prompt, get a story</h2>
            <p>
              Add a prompt, open it and press <strong>Generate story</strong>. The story appears word by word as it is
              written; you can cancel it, share it, and come back to any story later.
            </p>
          </section>
        )}
      </div>
    </main>
  );
}
