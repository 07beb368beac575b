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
  private readonly buckets = new Map<string, Bucket>()

  constructor(private readonly o: TokenBucketOptions) {}

  /** Takes one action for `key`: 0 if allowed now, else the ms until it would be. */
  take(key: string): number {
    const now = this.o.clock.now()
    const wait = take(this.refill(key, now), this.o.intervalMs)
    if (wait === 0 && this.buckets.size > SWEEP_ABOVE) this.sweep(now)
    return wait
  }

  private refill(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key)
    if (!bucket) this.buckets.set(key, (bucket = { tokens: this.o.burst, at: now }))
    return refill(bucket, now, this.o)
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

/** One bucket: its tokens as of `at`. */
export interface Bucket {
  tokens: number
  at: number
}

/** Adds what the bucket earned since it was last filled, up to `burst`. */
export function refill(
  bucket: Bucket,
  now: number,
  o: { burst: number; intervalMs: number },
): Bucket {
  const earned = (now - bucket.at) / o.intervalMs
  bucket.tokens = Math.min(o.burst, bucket.tokens + Math.max(0, earned))
  bucket.at = now
  return bucket
}

/** Takes a token from a filled bucket: 0 if there was one, else the ms until there is. */
export function take(bucket: Bucket, intervalMs: number): number {
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1
    return 0
  }
  return Math.ceil((1 - bucket.tokens) * intervalMs)
}
