// Runs an async job one at a time: a kick while it runs schedules exactly one more run, so every
// change a watcher reports is seen, and no two reads of the same file overlap.
export class SerialPump {
  private running: Promise<void> | null = null
  private again = false

  constructor (private readonly work: () => Promise<void>, private readonly onError: (err: Error) => void, private readonly stopped: () => boolean) {}

  kick (): void {
    if (this.stopped()) return
    if (this.running) {
      this.again = true
      return
    }
    this.again = false
    this.running = this.work()
      .catch((err: Error) => this.onError(err))
      .finally(() => {
        this.running = null
        if (this.again) this.kick()
      })
  }

  /** Resolves when no run is in flight or scheduled. */
  async idle (): Promise<void> {
    while (this.running) await this.running
  }
}
