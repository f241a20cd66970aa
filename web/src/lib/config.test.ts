import { describe, expect, it } from 'vitest';
import { localPath, oidcLoginHref, resolveEndpoints, resolveOidcName } from './config';

function page(metaContent?: string): Document {
  const doc = document.implementation.createHTMLDocument('t');
  if (metaContent !== undefined) {
    const meta = doc.createElement('meta');
    meta.name = 'storybot-graphql-url';
    meta.content = metaContent;
    doc.head.append(meta);
  }
  return doc;
}

describe('resolveEndpoints', () => {
  it('defaults to /graphql on the page origin', () => {
    expect(resolveEndpoints(page(''), 'http://localhost:8080/?prompt=1', undefined)).toEqual({
      http: 'http://localhost:8080/graphql',
      ws: 'ws://localhost:8080/graphql',
    });
  });

  it('uses wss for a page served over https', () => {
    expect(resolveEndpoints(page(), 'https://stories.example.com/', '')).toEqual({
      http: 'https://stories.example.com/graphql',
      ws: 'wss://stories.example.com/graphql',
    });
  });

  it('takes the build-time URL when the page names none', () => {
    expect(resolveEndpoints(page(''), 'https://app.example.com/', 'https://api.example.com/graphql').ws).toBe('wss://api.example.com/graphql');
  });

  it('prefers the URL the server wrote into the page', () => {
    const endpoints = resolveEndpoints(page('http://127.0.0.1:9000/gql'), 'https://app.example.com/', 'https://api.example.com/graphql');
    expect(endpoints).toEqual({ http: 'http://127.0.0.1:9000/gql', ws: 'ws://127.0.0.1:9000/gql' });
  });

  it('resolves a relative URL against the page', () => {
    expect(resolveEndpoints(page('/api/graphql'), 'https://app.example.com/x/y', undefined).http).toBe('https://app.example.com/api/graphql');
  });
});

describe('OpenID Connect', () => {
  it('reads the provider name the server wrote into the page', () => {
    const doc = document.implementation.createHTMLDocument('t');
    expect(resolveOidcName(doc)).toBeNull();
    const meta = doc.createElement('meta');
    meta.name = 'storybot-oidc-name';
    meta.content = '';
    doc.head.append(meta);
    expect(resolveOidcName(doc)).toBeNull();
    meta.content = ' Acme SSO ';
    expect(resolveOidcName(doc)).toBe('Acme SSO');
  });

  it('links to the login with a local next path only', () => {
    expect(oidcLoginHref('/?prompt=p-1&story=s-2')).toBe('/auth/oidc/login?next=%2F%3Fprompt%3Dp-1%26story%3Ds-2');
    for (const evil of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', '']) {
      expect(localPath(evil)).toBe('/');
    }
    expect(localPath('/tokens')).toBe('/tokens');
  });
});
