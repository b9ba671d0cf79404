// Primary side of the cluster-wide status page and metrics: a child that receives
// GET /server-status or /metrics asks the primary, which gathers from every child over IPC.
// (Filled in by the operator-view work; the cluster primary calls installStatusRelay once.)

export interface ChildSummary {
  /** node:cluster worker id */
  workerId: number
  pid: number
  state: 'booting' | 'ready' | 'stopping'
  /** ms since epoch */
  startedAt: number
  /** ms since epoch of the last heartbeat */
  lastCheckIn: number
}

export interface PrimaryView {
  /** ms since epoch when the primary started */
  startedAt: number
  /** processes replaced after a crash, heartbeat kill or recycle, since start */
  restarts: () => number
  children: () => ChildSummary[]
}

/** Installs the primary's IPC listeners; returns a function that removes them. */
export function installStatusRelay (view: PrimaryView): () => void {
  void view
  return () => {}
}
