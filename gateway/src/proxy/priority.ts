/**
 * A request's priority class (index into `routing.priority.classes`, 0 the highest): the gateway key's
 * class when the config gives one, else the class the priority header names, else the default. Only
 * replica pools' queues look at it: who waits first, and who is shed first when the queue is full.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { PriorityConfig } from '../config/pool-schema.js';

export type PriorityOf = (keyId: string | undefined, headers: IncomingHttpHeaders) => number;

export function createPriorityOf(config: PriorityConfig): PriorityOf {
  const index = new Map(config.classes.map((name, i) => [name, i]));
  const fallback = config.default === undefined ? 0 : (index.get(config.default) ?? 0);
  const byKey = new Map(Object.entries(config.keys).map(([key, name]) => [key, index.get(name) ?? fallback]));
  return (keyId, headers) => {
    if (keyId !== undefined) {
      const keyed = byKey.get(keyId);
      if (keyed !== undefined) return keyed;
    }
    const header = headers[config.header];
    return typeof header === 'string' ? (index.get(header.trim().toLowerCase()) ?? fallback) : fallback;
  };
}
