/**
 * Sticky canary assignment. A user's key hashes to a bucket in [0, 10000); the user is on the canary
 * when the bucket is below weight × 100. The bucket never changes, so a user stays on one variant while
 * the weight stays put, and raising the weight from 10 to 20 moves exactly the users in buckets
 * [1000, 2000) — about 10% — and nobody else.
 */
export const BUCKETS = 10_000;

export function stickyBucket(salt: string, key: string): number {
  // FNV-1a over the text, then murmur3's finaliser so similar keys ("user-1", "user-2") spread evenly.
  let hash = 0x811c9dc5;
  const text = `${salt}\u0000${key}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % BUCKETS;
}

export function isCanary(bucket: number, canaryWeightPercent: number): boolean {
  return bucket < Math.round(canaryWeightPercent * (BUCKETS / 100));
}
