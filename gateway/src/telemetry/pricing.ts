/**
 * Cost from a pricing table: USD per million input and output tokens per model. Shipped defaults cover
 * common hosted models (list prices when written; override them in config). A dated model name
 * (gpt-4o-2024-08-06) uses the longest priced prefix. A model with no price has no cost — counted in a
 * metric, never silently priced at zero.
 */
export interface ModelPrice {
  input: number;
  output: number;
}

export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'o3': { input: 2, output: 8 },
  'o4-mini': { input: 1.1, output: 4.4 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'gemini-2.5-pro': { input: 1.25, output: 10 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4 },
  'gemini-2.0-flash': { input: 0.1, output: 0.4 },
  // The built-in mock costs nothing, on purpose.
  'mock-1': { input: 0, output: 0 },
};

export class PriceTable {
  private readonly prices: Map<string, ModelPrice>;
  private readonly byLength: string[];
  private readonly resolved = new Map<string, ModelPrice | null>();

  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}) {
    this.prices = new Map(Object.entries({ ...DEFAULT_PRICES, ...overrides }));
    this.byLength = [...this.prices.keys()].sort((a, b) => b.length - a.length);
  }

  /** Price for `model` (or `provider/model`), by exact name then longest prefix; null when unknown. */
  priceOf(model: string): ModelPrice | null {
    const cached = this.resolved.get(model);
    if (cached !== undefined) return cached;
    let price = this.prices.get(model) ?? null;
    if (!price) {
      const name = model.includes('/') ? model.slice(model.lastIndexOf('/') + 1) : model;
      price = this.prices.get(name) ?? null;
      if (!price) {
        const prefix = this.byLength.find((candidate) => name.startsWith(candidate));
        price = prefix ? (this.prices.get(prefix) as ModelPrice) : null;
      }
    }
    // Client-chosen direct models could grow this map without end; cap it.
    if (this.resolved.size < 10_000) this.resolved.set(model, price);
    return price;
  }

  cost(model: string, inputTokens: number, outputTokens: number): number | null {
    const price = this.priceOf(model);
    if (!price) return null;
    return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
  }
}
