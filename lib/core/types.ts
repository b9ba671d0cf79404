// Types a handler module sees in its thread. They mirror Fastify's request/reply generics but do
// not depend on Fastify, so the same handlers can serve other adapters.

export interface OffloadRouteGeneric {
  Params?: unknown
  Querystring?: unknown
  Body?: unknown
  Headers?: unknown
}

type Or<T, Fallback> = unknown extends T ? Fallback : T

/** pino-like; lines reach the app's logger as a child of the request, with its reqId. */
export interface OffloadLogger {
  trace: LogFn
  debug: LogFn
  info: LogFn
  warn: LogFn
  error: LogFn
  fatal: LogFn
  child: (bindings: Record<string, unknown>) => OffloadLogger
}
export interface LogFn {
  (msg: string): void
  (obj: unknown, msg?: string): void
}

/** The request in a thread: plain data copied from the main thread, plus a logger. */
export interface OffloadRequest<G extends OffloadRouteGeneric = OffloadRouteGeneric> {
  id: string
  method: string
  url: string
  params: Or<G['Params'], Record<string, string>>
  query: Or<G['Querystring'], Record<string, string | string[]>>
  headers: Or<G['Headers'], Record<string, string | string[] | undefined>> & Record<string, string | string[] | undefined>
  body: Or<G['Body'], unknown>
  ip: string
  hostname: string
  log: OffloadLogger
  /**
   * Aborts when the client goes away or the task times out: a long computation can check
   * `signal.aborted`, and a returned stream is destroyed anyway.
   */
  signal: AbortSignal
}

export type HeaderValue = string | number | string[]

/**
 * Fastify's reply methods that make sense in a thread, with Fastify's rules (set-cookie
 * accumulates, `code()` throws outside 100..599, `getHeader()` sees headers hooks set before the
 * handler). The main thread replays the calls on the real reply. To send a body, return it.
 */
export interface OffloadReply {
  code: (statusCode: number) => OffloadReply
  status: (statusCode: number) => OffloadReply
  header: (name: string, value: HeaderValue) => OffloadReply
  headers: (values: Record<string, HeaderValue>) => OffloadReply
  type: (contentType: string) => OffloadReply
  getHeader: (name: string) => HeaderValue | undefined
  getHeaders: () => Record<string, HeaderValue>
  hasHeader: (name: string) => boolean
  removeHeader: (name: string) => OffloadReply
  /** 200 unless a hook or the handler set another. */
  statusCode: number
}

/** What an offloaded route handler module exports. */
export type OffloadHandler<G extends OffloadRouteGeneric = OffloadRouteGeneric, R = unknown> =
  (req: OffloadRequest<G>, reply: OffloadReply) => R | Promise<R>
