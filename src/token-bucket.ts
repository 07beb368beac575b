/**
 * Token buckets by key, on an injected clock: each key may act `burst` times at once, then
 * once per `intervalMs`. Limits what one user or one socket can make the cluster do. Keys
 * whose bucket has refilled are forgotten, so idle users cost nothing.
 */
import type { Clock } from './clock.ts'

export interface TokenBucketOptions {
  /** How many actions may come at once. */
  burst: number
  /** One more action is allowed every this many ms. */
  intervalMs: number
  clock: Clock
}

/** Buckets kept before full ones are swept out. */
const SWEEP_ABOVE = 10_000

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private readonly o: TokenBucketOptions) {}

  /** Takes one action for `key`: 0 if allowed now, else the ms until it would be. */
  take(key: string): number {
    const now = this.o.clock.now()
    const bucket = this.refill(key, now)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      if (this.buckets.size > SWEEP_ABOVE) this.sweep(now)
      return 0
    }
    return Math.ceil((1 - bucket.tokens) * this.o.intervalMs)
  }

  private refill(key: string, now: number): { tokens: number; at: number } {
    let bucket = this.buckets.get(key)
    if (!bucket) this.buckets.set(key, (bucket = { tokens: this.o.burst, at: now }))
    const earned = (now - bucket.at) / this.o.intervalMs
    bucket.tokens = Math.min(this.o.burst, bucket.tokens + Math.max(0, earned))
    bucket.at = now
    return bucket
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      const tokens = bucket.tokens + (now - bucket.at) / this.o.intervalMs
      if (tokens >= this.o.burst) this.buckets.delete(key)
    }
  }

  /** How many keys are held (idle ones are swept out). */
  get size(): number {
    return this.buckets.size
  }
}
