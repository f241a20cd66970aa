// Runs every audit of the graphql-http suite against the GraphQL endpoint
// given as the first argument and prints one JSON line per audit. Exits 1
// when a MUST audit fails.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://host:port/graphql');
  process.exit(2);
}

let failedMust = 0;
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  const level = audit.name.split(' ')[0];
  if (result.status !== 'ok' && level === 'MUST') failedMust++;
  console.log(JSON.stringify({ id: audit.id, name: audit.name, status: result.status, reason: result.reason }));
}
console.log(JSON.stringify({ failedMust }));
process.exit(failedMust > 0 ? 1 : 0);
