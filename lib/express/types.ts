// The little of Express's request and response the adapter uses, written out so the package's
// types need no @types/express: Express 4 and 5 objects both fit, and an adapter middleware is
// assignable to Express's RequestHandler.

import type { IncomingMessage, ServerResponse } from 'node:http'

export interface ExpressRequest extends IncomingMessage {
  params: Record<string, string>
  query: unknown
  body?: unknown
  ip?: string
  hostname?: string
  originalUrl: string
  path: string
  baseUrl: string
  route?: { path: string | RegExp }
  get: (name: string) => string | undefined
}

export interface ExpressResponse extends ServerResponse {
  status: (code: number) => ExpressResponse
  set: (field: string, value?: string | string[]) => ExpressResponse
  append: (field: string, value?: string | string[]) => ExpressResponse
  type: (type: string) => ExpressResponse
  send: (body?: unknown) => ExpressResponse
  json: (body?: unknown) => ExpressResponse
  /** The app, for its `json replacer`, `json spaces` and `json escape` settings. */
  app?: { get: (setting: string) => unknown }
}

export type NextFunction = (err?: unknown) => void
export type Middleware = (req: ExpressRequest, res: ExpressResponse, next: NextFunction) => void
