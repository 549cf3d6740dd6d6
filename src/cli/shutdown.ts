// How a command ends. The first Ctrl-C (or SIGTERM) asks it to stop cleanly; a second one, or a
// clean stop that hangs, ends the process at once: Ctrl-C always works. A fatal error of what the
// command exists for (its stream died, its disk refused) ends it too, through the same path.

/** Longest a clean stop may take after the first signal before the process exits anyway. */
export const STOP_GRACE_MS = 10_000

export type StopReason =
  | { kind: 'signal'; signal: NodeJS.Signals }
  | { kind: 'fatal'; error: Error }
  /** What the command served came to its natural end (a file without --loop). */
  | { kind: 'ended' }

export class Shutdown {
  private readonly controller = new AbortController()
  private signals = 0

  constructor(private readonly proc: NodeJS.Process = process, private readonly graceMs = STOP_GRACE_MS) {}

  /** Aborted on the first signal; commands hand it to whatever they wait on. */
  get signal(): AbortSignal { return this.controller.signal }

  /** Takes over SIGINT and SIGTERM; returns the undo. */
  install(): () => void {
    const on = (sig: NodeJS.Signals) => {
      if (++this.signals > 1) {
        this.proc.stderr.write('cjp2p-stream: stopping now\n')
        this.proc.exit(130)
      }
      this.controller.abort(sig)
      setTimeout(() => {
        this.proc.stderr.write(`cjp2p-stream: did not stop within ${this.graceMs / 1000} s of ${sig}; exiting\n`)
        this.proc.exit(1)
      }, this.graceMs).unref()
    }
    this.proc.on('SIGINT', on)
    this.proc.on('SIGTERM', on)
    return () => { this.proc.off('SIGINT', on); this.proc.off('SIGTERM', on) }
  }

  /** The first of: a signal, or one of `work` settling (with the error that ended it, or null). */
  until(...work: Array<Promise<Error | null>>): Promise<StopReason> {
    const signalled = new Promise<StopReason>((resolve) => {
      const done = () => resolve({ kind: 'signal', signal: this.controller.signal.reason as NodeJS.Signals })
      if (this.controller.signal.aborted) done()
      else this.controller.signal.addEventListener('abort', done, { once: true })
    })
    const ended = work.map((p) => p.then((error): StopReason => error ? { kind: 'fatal', error } : { kind: 'ended' }))
    return Promise.race([signalled, ...ended])
  }
}
