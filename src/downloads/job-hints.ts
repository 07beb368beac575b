/**
 * What a node tells a job's author, once, about a use of the job contract that is valid but
 * almost certainly not meant: the download goes on as reported, and the same mistake in every
 * download would otherwise show only as a page stuck at 0 %, with nothing in the logs.
 */
import type { Fields, Logger } from '../logger.ts'

export class JobHints {
  private readonly told = new Set<string>()

  constructor(
    private readonly log: Logger,
    private readonly job: string,
  ) {}

  /** A report strictly between 0 and 1: a fraction given where a percent is read. */
  reported(progress: number, id: string): void {
    if (!(progress > 0 && progress < 1)) return
    this.once('progress-fraction', {
      job: this.job,
      id,
      reported: progress,
      hint: 'report() takes a percent from 0 to 100 (report(50) is half): this shows as 0 %',
    })
  }

  private once(event: string, fields: Fields): void {
    if (this.told.has(event)) return
    this.told.add(event)
    this.log.warn(event, fields)
  }
}
