/** The two addresses of the storybot GraphQL API: HTTP for queries and mutations, websocket for subscriptions. */
export interface Endpoints {
  http: string;
  ws: string;
}

/** Name of the meta tag that the Go handler fills in when it is told the API lives elsewhere. */
export const GRAPHQL_URL_META = 'storybot-graphql-url';

/**
 * Works out where the API is, in this order:
 *  1. the `storybot-graphql-url` meta tag of the page, which the Go handler writes at serve time;
 *  2. `VITE_GRAPHQL_URL`, baked in at build time (for a bundle hosted away from storybot);
 *  3. `/graphql` on the page's own origin.
 * Relative values resolve against the page; the websocket URL is the same address over ws/wss.
 */
export function resolveEndpoints(
  doc: Document = document,
  pageURL: string = window.location.href,
  buildTimeURL: string | undefined = import.meta.env.VITE_GRAPHQL_URL,
): Endpoints {
  const fromPage = doc.querySelector<HTMLMetaElement>(`meta[name="${GRAPHQL_URL_META}"]`)?.content.trim();
  const configured = fromPage || buildTimeURL?.trim() || '/graphql';
  const http = new URL(configured, pageURL);
  const ws = new URL(http.href);
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  return { http: http.href, ws: ws.href };
}

/** Name of the meta tag that the Go handler fills with the OpenID Connect provider's name. */
export const OIDC_NAME_META = 'storybot-oidc-name';

/** The name of the server's OpenID Connect provider, for "Sign in with …"; null when it has none. */
export function resolveOidcName(doc: Document = document): string | null {
  return doc.querySelector<HTMLMetaElement>(`meta[name="${OIDC_NAME_META}"]`)?.content.trim() || null;
}

/** Where the server starts an OpenID Connect sign-in; it comes back to `next`, signed in. */
export function oidcLoginHref(next: string): string {
  return `/auth/oidc/login?${new URLSearchParams({ next: localPath(next) })}`;
}

/**
 * A path of this site to come back to, or "/" for anything else: an absolute URL, a
 * protocol-relative "//host" or a backslash trick must never become a redirect elsewhere.
 */
export function localPath(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/';
  return next;
}
