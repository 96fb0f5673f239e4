/**
 * Every built-in detector by name, and the groups config may name instead (`national_id` for all of
 * them). The `pii` guardrail kind picks from PII_NAMES, the `secrets` kind from SECRET_NAMES.
 */
import type { Detector } from './detector.js';
import { NATIONAL_ID_DETECTORS } from './national-ids.js';
import { PII_DETECTORS } from './pii-detectors.js';
import { SECRET_DETECTORS } from './secret-detectors.js';

const byName = (detectors: readonly Detector[]): ReadonlyMap<string, Detector> => new Map(detectors.map((d) => [d.name, d]));

export const PII_CATALOGUE = byName([...PII_DETECTORS, ...NATIONAL_ID_DETECTORS]);
export const SECRET_CATALOGUE = byName(SECRET_DETECTORS);

/** Names that stand for several detectors. */
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  national_id: NATIONAL_ID_DETECTORS.map((d) => d.name),
};

/** The detectors `names` selects from `catalogue` (all of it when `names` is empty); unknown names throw. */
export function selectDetectors(catalogue: ReadonlyMap<string, Detector>, names: readonly string[]): Detector[] {
  if (names.length === 0) return [...catalogue.values()];
  const selected = new Set<Detector>();
  for (const name of names) {
    for (const member of GROUPS[name] ?? [name]) {
      const detector = catalogue.get(member);
      if (!detector) throw new Error(`unknown detector '${name}'`);
      selected.add(detector);
    }
  }
  return [...selected];
}

/** Names a config may use for this catalogue: its detectors and the groups within it. */
export function detectorNames(catalogue: ReadonlyMap<string, Detector>): string[] {
  const groups = Object.entries(GROUPS)
    .filter(([, members]) => members.every((m) => catalogue.has(m)))
    .map(([group]) => group);
  return [...catalogue.keys(), ...groups];
}
