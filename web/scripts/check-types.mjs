// Fails when src/types/api.d.ts is not what `npm run types` makes of ../openapi/openapi.json
// (the committed OpenAPI document changed and the types were not regenerated, or the types
// were edited by hand).
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(web, 'src/types/api.d.ts');
const dir = mkdtempSync(join(tmpdir(), 'chirp-types-'));
const fresh = join(dir, 'api.d.ts');
try {
  const cli = join(web, 'node_modules/openapi-typescript/bin/cli.js');
  execFileSync(process.execPath, [cli, '../openapi/openapi.json', '-o', fresh], {
    cwd: web,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let current = '';
  try {
    current = readFileSync(committed, 'utf8');
  } catch {
    // Missing: reported as a difference below.
  }
  if (current !== readFileSync(fresh, 'utf8')) {
    console.error(
      'src/types/api.d.ts is out of date with ../openapi/openapi.json: run `npm run types` ' +
        'and commit the result (then `npm run check` tells whether the client still fits).',
    );
    process.exit(1);
  }
  console.log('src/types/api.d.ts matches ../openapi/openapi.json');
} finally {
  rmSync(dir, {recursive: true, force: true});
}
