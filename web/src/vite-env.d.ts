/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** GraphQL endpoint baked into the bundle; empty means `/graphql` on the page's origin. */
  readonly VITE_GRAPHQL_URL?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
