import { describe, expect, it } from 'vitest';
import { exportHref } from './exports';

describe('exportHref', () => {
  it('is a path on the page origin, with the share token for a share link', () => {
    const here = `${window.location.origin}/graphql`;
    expect(exportHref('st_1', 'md', null, here)).toBe('/stories/st_1.md');
    expect(exportHref('st_1', 'epub', 'sh a/b', here)).toBe('/stories/st_1.epub?share=sh+a%2Fb');
  });

  it("is on the API's origin when the API lives elsewhere", () => {
    expect(exportHref('st_2', 'epub', undefined, 'https://api.example.com/graphql')).toBe('https://api.example.com/stories/st_2.epub');
  });
});
