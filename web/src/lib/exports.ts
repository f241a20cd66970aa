import { resolveEndpoints } from './config';

/** The formats a story can be downloaded in. */
export type ExportFormat = 'md' | 'epub';

/**
 * Where a story is downloaded: /stories/<id>.md or .epub on the API's origin (the page's, unless
 * the API lives elsewhere), with the share token for someone holding a share link. The owner's
 * session cookie goes with the request by itself.
 */
export function exportHref(storyId: string, format: ExportFormat, shareToken?: string | null, apiURL: string = resolveEndpoints().http): string {
  const url = new URL(`/stories/${encodeURIComponent(storyId)}.${format}`, apiURL);
  if (shareToken) url.searchParams.set('share', shareToken);
  // Same origin as the page: a relative address, as the rest of the app uses.
  return typeof window !== 'undefined' && url.origin === window.location.origin ? `${url.pathname}${url.search}` : url.href;
}
