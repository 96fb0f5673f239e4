/** The README's Dashboard section names every endpoint the dashboard page reads, so an operator knows what to allow through. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

describe('README: Dashboard', () => {
  it('lists every /api endpoint dashboard/app.js calls', () => {
    const called = new Set([...read('dashboard/app.js').matchAll(/api\(\s*[`'"](\/api\/[a-z-]+)/g)].map((match) => match[1]!));
    expect(called.size).toBeGreaterThanOrEqual(6);
    const readme = read('README.md');
    const start = readme.indexOf('\n## Dashboard\n');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    expect([...called].filter((path) => !new RegExp(`${path}(?![a-z-])`).test(section))).toEqual([]);
  });
});
