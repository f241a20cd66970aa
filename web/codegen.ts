// GraphQL Code Generator (client preset): the TypeScript types of every operation and fragment
// that src/ writes with graphql(), checked against the server's schema: the graph/*.graphqls
// files gqlgen builds it from (graph/ent.graphqls is Ent's, committed by `make generate`).
// `npm run codegen` writes src/graphql/generated/, which is committed; `make check-generated`
// runs it again and fails when the result differs.
import type { CodegenConfig } from '@graphql-codegen/cli';
import { Kind, visit, type DocumentNode, type SelectionSetNode } from 'graphql';

// Apollo Client adds __typename to every selection set but an operation's own (its cache keys
// objects by it). The generated documents select it in the same places, so that their types
// carry it too: a node(id) answer then narrows by __typename, and what goes over the wire is
// what Apollo would have sent anyway.
const addTypename = {
  transform: <S extends { document?: DocumentNode }>({ documents }: { documents: S[] }): S[] =>
    documents.map((source) => ({
      ...source,
      document:
        source.document &&
        visit(source.document, {
          SelectionSet(node: SelectionSetNode, _key, parent) {
            const root = parent !== undefined && !Array.isArray(parent) && (parent as { kind?: string }).kind === Kind.OPERATION_DEFINITION;
            if (root || node.selections.some((s) => s.kind === Kind.FIELD && s.name.value === '__typename')) return undefined;
            return { ...node, selections: [{ kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } }, ...node.selections] };
          },
        }),
    })),
};

const config: CodegenConfig = {
  schema: '../graph/*.graphqls',
  documents: ['src/**/*.{ts,tsx}', '!src/**/*.test.{ts,tsx}', '!src/test/**', '!src/graphql/generated/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/graphql/generated/': {
      preset: 'client',
      // Apollo Client hands components whole objects: no useFragment() to unmask them.
      presetConfig: { fragmentMasking: false },
      documentTransforms: [addTypename],
      config: {
        // Unions of string literals, as the API sends them, rather than TypeScript enums.
        enumsAsTypes: true,
        // Nullable fields come back as null, never missing; optional inputs may be left out.
        avoidOptionals: { field: true, object: true, inputValue: false, defaultValue: false },
        scalars: { Cursor: 'string', Time: 'string' },
        useTypeImports: true,
      },
    },
  },
};

export default config;
