// `fastify-mpm start --watch`: a development aid, like Gunicorn's --reload or `node --watch`.
// Files under the app's folder are watched and every change (debounced) runs the cluster's own
// graceful reload, so a change never drops a request and code that fails to boot leaves the old
// processes serving. node_modules and dot-folders (.git, .cache…) are never watched: on Linux a
// recursive fs.watch holds one inotify watch per folder, and node_modules alone can exhaust the
// per-user limit; their changes are not the app's edits either.

import { readdirSync, watch, type FSWatcher } from 'node:fs'
import { join, sep } from 'node:path'
import type { ClusterLogger } from './options.js'

/** Quiet time after the last change before reloading: an editor's save is several events. */
export const WATCH_DEBOUNCE_MS = 300

export interface WatchTarget {
  reload: () => Promise<unknown>
}

/** A path relative to the watched folder that no reload should follow. */
export function ignored (relative: string): boolean {
  return relative.split(/[\\/]/).some((part) => part === 'node_modules' || part.startsWith('.'))
}

/**
 * Watches `root` and reloads `target` after each burst of changes; at most one reload runs at a
 * time, and changes made during one cause exactly one more. Returns a function that stops it.
 */
export function watchAndReload (root: string, target: WatchTarget, log: ClusterLogger, debounceMs = WATCH_DEBOUNCE_MS): () => void {
  const watchers = new Map<string, FSWatcher>()
  let timer: NodeJS.Timeout | undefined
  let running = false
  let again = false
  let changed: string | undefined
  let stopped = false

  const reload = (): void => {
    timer = undefined
    if (running) { again = true; return }
    running = true
    const file = changed
    log.info({ pid: process.pid, file, reason: 'watch' }, `${file ?? 'a file'} changed: reloading`)
    target.reload().catch((err: Error & { code?: string }) => {
      // Stopping (Ctrl-C) is not a failed reload.
      if (err.code === 'FST_MPM_CLUSTER_STOPPED') return
      // The cluster has logged why; the old processes keep serving until the next save.
      log.warn({ pid: process.pid, reason: 'watch', err: err.message }, 'reload after a change failed; the previous processes keep serving')
    }).finally(() => {
      running = false
      if (again && !stopped) { again = false; schedule() }
    })
  }
  const schedule = (): void => {
    if (stopped) return
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(reload, debounceMs)
  }
  const onChange = (relative: string) => (_event: string, name: string | Buffer | null): void => {
    const path = name === null ? relative : join(relative, String(name))
    if (path !== '' && ignored(path)) return
    changed = path
    schedule()
    // A folder created at the top is not under any recursive watch yet.
    if (relative === '') addFolders()
  }
  const add = (relative: string, recursive: boolean): void => {
    if (watchers.has(relative) || stopped) return
    try {
      const watcher = watch(join(root, relative), { recursive }, onChange(relative))
      watcher.on('error', () => { watcher.close(); watchers.delete(relative) })
      watchers.set(relative, watcher)
    } catch {
      // Gone between listing and watching: nothing to follow.
    }
  }
  // The top folder alone (its files), then each folder in it that is not ignored, recursively.
  const addFolders = (): void => {
    let entries
    try { entries = readdirSync(root, { withFileTypes: true }) } catch { return }
    for (const entry of entries) if (entry.isDirectory() && !ignored(entry.name)) add(entry.name, true)
  }
  add('', false)
  addFolders()
  log.info({ pid: process.pid, root: root.endsWith(sep) ? root : root + sep, reason: 'watch' },
    'watching for changes (development aid: each change reloads every process)')

  return () => {
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
    for (const watcher of watchers.values()) watcher.close()
    watchers.clear()
  }
}
