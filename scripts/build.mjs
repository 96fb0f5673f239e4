/**
 * Compiles gateway/src into dist/ with tsc (type-checking as it goes).
 *
 *   node scripts/build.mjs               a clean build (`npm run build`)
 *   node scripts/build.mjs --if-changed  only when the sources changed since the last build (`npm start`)
 *
 * A build records a hash of everything that shapes dist/ (sources, tsconfig files, the lock file) in
 * dist/.build-inputs. With --if-changed the hash is recomputed — a few milliseconds — and the build is
 * skipped when it matches, so a start takes about a second and leaves the checkout untouched. A hash
 * rather than file times: a branch switch or `git stash` can bring back older sources with older times.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const stampFile = join(dist, '.build-inputs');
const inputs = ['gateway/src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function* files(path) {
  if (!existsSync(path)) return;
  if (!statSync(path).isDirectory()) {
    yield path;
    return;
  }
  for (const name of readdirSync(path).sort()) yield* files(join(path, name));
}

function inputHash() {
  const hash = createHash('sha256');
  for (const input of inputs) {
    for (const file of files(join(root, input))) {
      hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex');
}

const current = inputHash();
if (process.argv.includes('--if-changed') && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === current) {
  console.error('dist/ is up to date with the sources; not rebuilding');
  process.exit(0);
}

// A clean build: files of deleted sources must not linger in dist/.
rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
writeFileSync(stampFile, current);
