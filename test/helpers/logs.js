// Captures a Fastify/pino logger's output as parsed JSON lines, for assertions on what was logged.

/**
 * `Fastify({ logger: { level, stream: capture.stream } })`.
 * @returns {{ stream: { write(line: string): void }, lines: object[], find(pred): object | undefined,
 *   filter(pred): object[], waitFor(pred, timeoutMs?): Promise<object> }}
 */
export function captureLogs () {
  const lines = []
  const waiters = new Set()
  const stream = {
    write (chunk) {
      for (const text of String(chunk).split('\n')) {
        if (text.trim() === '') continue
        let line
        try { line = JSON.parse(text) } catch { line = { msg: text, unparsed: true } }
        lines.push(line)
        for (const waiter of waiters) waiter(line)
      }
    }
  }
  return {
    stream,
    lines,
    find: (pred) => lines.find(pred),
    filter: (pred) => lines.filter(pred),
    /** Resolves with the first line (already written or to come) matching `pred`. */
    waitFor (pred, timeoutMs = 5000) {
      const found = lines.find(pred)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no log line matched within ${timeoutMs} ms; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`))
        }, timeoutMs)
        function check (line) {
          if (!pred(line)) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(line)
        }
        waiters.add(check)
      })
    }
  }
}
