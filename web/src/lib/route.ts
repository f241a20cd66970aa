import { useEffect, useState, type MouseEvent } from 'react';

/**
 * The pages of the app. The Go handler serves index.html for every path it has no file for, so
 * the app routes on the client:
 *   /             the prompts (with ?prompt=…&story=…, see selection.ts)
 *   /signin       sign in (?error=<code> when an OpenID Connect sign-in failed)
 *   /signup       create an account
 *   /tokens       the signed-in user's API tokens
 *   /s/<token>    a shared story, read-only, for anyone holding the link
 * Any other path shows the prompts.
 */
export type Route =
  | { page: 'prompts' }
  | { page: 'signin'; error: string | null }
  | { page: 'signup' }
  | { page: 'tokens' }
  | { page: 'shared'; token: string };

/** The path of a share link's page. */
export function sharePath(token: string): string {
  return `/s/${encodeURIComponent(token)}`;
}

/** The route of a path and query string. */
export function parseRoute(pathname: string, search: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  const shared = /^\/s\/([^/]+)$/.exec(path);
  if (shared?.[1]) {
    try {
      return { page: 'shared', token: decodeURIComponent(shared[1]) };
    } catch {
      return { page: 'shared', token: shared[1] };
    }
  }
  switch (path) {
    case '/signin':
      return { page: 'signin', error: new URLSearchParams(search).get('error') || null };
    case '/signup':
      return { page: 'signup' };
    case '/tokens':
      return { page: 'tokens' };
    default:
      return { page: 'prompts' };
  }
}

/**
 * Goes to a path of the app without reloading. Listeners of popstate (useRoute, useSelection)
 * hear of it as of a move through the history.
 */
export function navigate(to: string, { replace = false } = {}): void {
  const current = `${window.location.pathname}${window.location.search}${window.location.hash}`;
  if (to !== current) {
    if (replace) window.history.replaceState(null, '', to);
    else window.history.pushState(null, '', to);
  }
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The current route, following the history. */
export function useRoute(): Route {
  const read = () => parseRoute(window.location.pathname, window.location.search);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const onPop = () =>
      setRoute((previous) => {
        const next = read();
        return JSON.stringify(next) === JSON.stringify(previous) ? previous : next;
      });
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  return route;
}

/**
 * A click handler for a link to a page of the app: a plain click navigates in place, while a
 * click with a modifier (new tab, new window) is left to the browser.
 */
export function onLinkClick(to: string) {
  return (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
}
