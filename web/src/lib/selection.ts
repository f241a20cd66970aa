import { useCallback, useEffect, useState } from 'react';

/** Which prompt and story are open; kept in the address (?prompt=…&story=…) so links and reloads work. */
export interface Selection {
  promptId: string | null;
  storyId: string | null;
}

/** Reads a selection from a query string. */
export function parseSelection(search: string): Selection {
  const params = new URLSearchParams(search);
  return { promptId: params.get('prompt') || null, storyId: params.get('story') || null };
}

/** Writes a selection into a query string, keeping unrelated parameters. */
export function formatSelection(search: string, selection: Selection): string {
  const params = new URLSearchParams(search);
  params.delete('prompt');
  params.delete('story');
  if (selection.promptId) params.set('prompt', selection.promptId);
  if (selection.promptId && selection.storyId) params.set('story', selection.storyId);
  const query = params.toString();
  return query ? `?${query}` : '';
}

/** The selection, synced with the browser history: back and forward move between selections. */
export function useSelection(): [Selection, (next: Selection) => void] {
  const [selection, setSelection] = useState<Selection>(() => parseSelection(window.location.search));

  useEffect(() => {
    const onPop = () => setSelection(parseSelection(window.location.search));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const select = useCallback((next: Selection) => {
    const search = formatSelection(window.location.search, next);
    if (search !== window.location.search) {
      window.history.pushState(null, '', `${window.location.pathname}${search}${window.location.hash}`);
    }
    setSelection(next);
  }, []);

  return [selection, select];
}
