/**
 * Weighted ordering for load balancing: the first element is a weighted random choice, the rest follow
 * in weighted random order too (so fallbacks after the pick also respect weights). Zero weights are
 * left out entirely: a drained target receives nothing.
 */
export function weightedOrder<T>(items: readonly T[], weights: readonly number[], random: () => number): T[] {
  const pool: { item: T; weight: number }[] = [];
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const weight = weights[i] ?? 0;
    if (weight > 0) {
      pool.push({ item: items[i] as T, weight });
      total += weight;
    }
  }
  const out: T[] = [];
  while (pool.length > 0) {
    let point = random() * total;
    let index = 0;
    while (index < pool.length - 1 && point >= (pool[index] as { weight: number }).weight) {
      point -= (pool[index] as { weight: number }).weight;
      index++;
    }
    const [picked] = pool.splice(index, 1) as [{ item: T; weight: number }];
    total -= picked.weight;
    out.push(picked.item);
  }
  return out;
}
