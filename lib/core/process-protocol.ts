// What a process pool's parent and children say to each other besides tinypool's own messages
// (tasks and outcomes): the child's settings, passed in its environment because tinypool's
// child_process runtime does not pass workerData, and the two messages a child sends on its IPC
// channel, each tagged so that anything else a handler sends with process.send() is ignored.

import type { LogLine } from './marshal.js'

/** Environment variable holding a child's ProcessConfig as JSON; the child removes it as it starts. */
export const PROCESS_ENV = 'FASTIFY_MPM_PROCESS'

export interface ProcessConfig {
  /** Retire after this many tasks (0 = never). */
  maxTasks: number
  /** Retire once the heap in use passes this many bytes after a task (0 = never). */
  maxHeap: number
}

/** The tag on every message of ours from a child. */
export const TAG = '$mpm'

/** A log line (`l`), or news of a handler's start (`s`: task id; `w`: the child loads the route's module first). */
export type ChildMessage = { [TAG]: 'l', l: LogLine } | { [TAG]: 's', s: number, w?: 1 }
