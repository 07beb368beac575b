/**
 * The soak's samples: per node, named series (disk, memory, heap) taken together, so that the
 * nodes' samples of one series share their times. In time order.
 */
import type { Sample } from './growth.ts'

export class NodeSeries {
  private readonly named = new Map<string, Sample[][]>()

  constructor(private readonly nodes: number) {}

  /** One sample of every node (`values` in the nodes' order), at `t` seconds. */
  push(name: string, t: number, values: readonly number[]): void {
    this.of(name).forEach((series, i) => series.push({ t, value: values[i]! }))
  }

  /** Each node's series of that name (empty ones if none was pushed). */
  of(name: string): Sample[][] {
    let series = this.named.get(name)
    if (!series) this.named.set(name, (series = Array.from({ length: this.nodes }, () => [])))
    return series
  }

  toJSON(): Record<string, Sample[][]> {
    return Object.fromEntries(this.named)
  }
}
