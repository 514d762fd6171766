// Generates widget/api.generated.ts (TypeScript types of the REST API) from
// ansflow_jupyter/server/openapi.yaml with openapi-typescript.
//   node scripts/gen-api.mjs            write the file
//   node scripts/gen-api.mjs --check    exit 1 when the file is not what the spec gives
//   --spec PATH / --out PATH            other files (the staleness test uses them)
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const spec = option('--spec', new URL('../../ansflow_jupyter/server/openapi.yaml', import.meta.url).pathname);
const out = option('--out', new URL('../widget/api.generated.ts', import.meta.url).pathname);
const header =
  '// Generated from ansflow_jupyter/server/openapi.yaml by scripts/gen-api.mjs (npm run build:api):\n' +
  '// do not edit. The front-end tests fail when this file is older than the spec.\n';
const ast = await openapiTS(pathToFileURL(spec), { silent: true });
const text = header + astToString(ast);
let old = '';
try {
  old = readFileSync(out, 'utf8');
} catch {}
if (args.includes('--check')) {
  if (old !== text) {
    console.error(`${out} is stale: run \`npm run build:api\` in labextension/ after changing ${spec}`);
    process.exit(1);
  }
} else if (old !== text) {
  writeFileSync(out, text);
}
