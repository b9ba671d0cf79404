// Handlers for the process-isolated pool: code that is not safe in a worker thread (a native
// addon, say) runs in a child process there, where a crash costs only its own request.
export default function thumb () {
  return { thumb: 'ok', pid: process.pid }
}

/** What a crashing native addon does: in a thread pool it takes the whole server down. */
export function crash () {
  process.kill(process.pid, 'SIGSEGV')
}
