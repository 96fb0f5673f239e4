/** API-created keys in a Redis hash, so every replica accepts a key created through any of them. */
import type { Redis } from 'ioredis';
import { lazyRedis } from '../redis/lazy-redis.js';
import { orStateUnavailable } from '../redis/state-unavailable.js';
import type { GatewayKey, KeyStore } from './key-registry.js';

export class RedisKeyStore implements KeyStore {
  private readonly client: Promise<Redis>;

  constructor(url: string, private readonly hashName = 'gateway:keys') {
    this.client = lazyRedis(url, { maxRetriesPerRequest: 1, connectTimeout: 2000 });
  }

  async list(): Promise<GatewayKey[]> {
    const all = await (await this.client).hgetall(this.hashName);
    return Object.values(all).map((json) => JSON.parse(json) as GatewayKey);
  }

  async put(key: GatewayKey): Promise<void> {
    await orStateUnavailable('the API-created key', (await this.client).hset(this.hashName, key.id, JSON.stringify(key)));
  }

  async remove(id: string): Promise<boolean> {
    return (await orStateUnavailable('the API-created key', (await this.client).hdel(this.hashName, id))) > 0;
  }

  async close(): Promise<void> {
    (await this.client).disconnect();
  }
}
