/**
 * The Node versions the project names stay true to each other and to its dependencies: `engines` admits
 * the pinned runtimes and only versions every installed package accepts; the npm `node` package,
 * .nvmrc, .node-version and the image's base tag name one Node 24 version; CI's second runtime is 26.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const json = (path: string): any => JSON.parse(read(path));

const pkg = json('package.json');
const engines: string = pkg.engines.node;

describe('runtime pins', () => {
  it('engines admits only Node versions every installed package supports', () => {
    const lock = json('package-lock.json') as { packages: Record<string, { engines?: { node?: string } | string[] }> };
    const narrower = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.engines && !Array.isArray(entry.engines) && entry.engines.node)
      .filter(([, entry]) => !semver.subset(engines, (entry.engines as { node: string }).node, { includePrerelease: false }))
      .map(([path, entry]) => `${path}: ${(entry.engines as { node: string }).node}`);
    expect(narrower).toEqual([]);
  });

  it('the npm node package, .nvmrc, .node-version and the image base name one Node 24 release within engines', () => {
    const version: string = pkg.devDependencies.node;
    expect(semver.major(version)).toBe(24);
    expect(semver.satisfies(version, engines)).toBe(true);
    expect(read('.nvmrc').trim()).toBe(version);
    expect(read('.node-version').trim()).toBe(version);
    const bases = [...read('Dockerfile').matchAll(/^FROM node:(\S+?)-(\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    expect(new Set(bases)).toEqual(new Set([version]));
  });

  it('CI also runs the suite on a pinned Node 26 within engines', () => {
    const version: string = json('.ci/node-26/package.json').devDependencies.node;
    expect(semver.major(version)).toBe(26);
    expect(semver.satisfies(version, engines)).toBe(true);
    expect(read('.ci/run')).toContain('.ci/node-26');
  });
});
