import { describe, expect, it } from 'vitest';
import { parseRoute, sharePath } from './route';

describe('parseRoute', () => {
  it.each([
    ['/', '', { page: 'prompts' }],
    ['/', '?prompt=p-1&story=s-2', { page: 'prompts' }],
    ['/signin', '', { page: 'signin', error: null }],
    ['/signin/', '?error=access_denied', { page: 'signin', error: 'access_denied' }],
    ['/signup', '', { page: 'signup' }],
    ['/tokens', '', { page: 'tokens' }],
    ['/s/sh_AbC-12', '', { page: 'shared', token: 'sh_AbC-12' }],
    ['/s/a%2Fb', '', { page: 'shared', token: 'a/b' }],
    ['/s/', '', { page: 'prompts' }],
    ['/some/deep/link', '', { page: 'prompts' }],
  ])('%s%s', (path, search, want) => {
    expect(parseRoute(path, search)).toEqual(want);
  });

  it('round-trips a share token through its path', () => {
    for (const token of ['sh_1', 'a/b?c#d', 'ünï']) {
      expect(parseRoute(sharePath(token), '')).toEqual({ page: 'shared', token });
    }
  });
});
