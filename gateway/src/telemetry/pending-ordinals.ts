/**
 * The ordinals of row batches in flight (taken from the queue or spilled past it, not yet settled), and
 * the least of them. Batches mostly settle in order, but spills to the spool do not wait their turn:
 * a min-heap with settled ordinals removed lazily keeps adding, settling and asking for the least
 * O(log n), where a list searched on every settle and scanned on every status report was quadratic in a
 * thread that is behind.
 */
export class PendingOrdinals {
  private heap: number[] = [];
  /** Settled ordinals still in the heap (below its top). */
  private settled = new Set<number>();

  add(ordinal: number): void {
    const heap = this.heap;
    let at = heap.push(ordinal) - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (heap[parent]! <= ordinal) break;
      heap[at] = heap[parent]!;
      at = parent;
    }
    heap[at] = ordinal;
  }

  settle(ordinal: number): void {
    this.settled.add(ordinal);
    this.dropSettledTop();
  }

  /** The least ordinal in flight, if any. */
  least(): number | undefined {
    return this.heap[0];
  }

  private dropSettledTop(): void {
    while (this.heap.length > 0 && this.settled.delete(this.heap[0]!)) this.pop();
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
      if (heap[child]! >= last) break;
      heap[at] = heap[child]!;
      at = child;
    }
    heap[at] = last;
  }
}
