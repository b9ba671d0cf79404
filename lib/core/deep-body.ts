// Request bodies nested deeper than structured clone can carry. JSON.parse builds any depth (a
// 30 KB body can nest 5,000 deep), but V8 clones recursively and throws "Maximum call stack size
// exceeded" near 2,000 levels, and so does JSON.stringify a little deeper. Such a body travels
// as JSON text written without recursion, and the thread parses it back: the handler sees the
// same body it would inline.

import { MAX_CLONE_DEPTH } from './route-value.js'

/**
 * True when the body may not survive structured clone. Each level of nesting costs a body at
 * least two bytes in JSON or a query string, so a declared length below that needs no walk.
 */
export function isTooDeepToClone (body: unknown, contentLength: string | undefined): boolean {
  if (body === null || typeof body !== 'object' || ArrayBuffer.isView(body)) return false
  if (contentLength !== undefined && Number(contentLength) < 2 * MAX_CLONE_DEPTH) return false
  return deeperThan(body, MAX_CLONE_DEPTH)
}

function deeperThan (root: object, limit: number): boolean {
  const seen = new Set<object>()
  const stack: Array<[object, number]> = [[root, 0]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [object, number]
    if (depth >= limit) return true
    if (seen.has(node) || ArrayBuffer.isView(node)) continue
    seen.add(node)
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key]
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
    }
  }
  return false
}

interface Frame { node: Record<string, unknown> | unknown[], keys: string[] | null, i: number, wrote: boolean }

function isContainer (value: unknown): value is Record<string, unknown> | unknown[] {
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return true
  const proto = Object.getPrototypeOf(value)
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function'
}

function skipped (value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol'
}

/** JSON.stringify without recursion for plain objects and arrays; any other leaf goes to JSON.stringify. */
export function stringifyDeep (value: unknown): string {
  let out = ''
  const stack: Frame[] = []
  const emit = (v: unknown): void => {
    if (!isContainer(v)) {
      out += JSON.stringify(v) ?? 'null'
      return
    }
    const isArray = Array.isArray(v)
    out += isArray ? '[' : '{'
    stack.push({ node: v, keys: isArray ? null : Object.keys(v), i: 0, wrote: false })
  }
  emit(value)
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]
    if (frame.keys === null) {
      const list = frame.node as unknown[]
      if (frame.i >= list.length) { out += ']'; stack.pop(); continue }
      if (frame.i > 0) out += ','
      const v = list[frame.i++]
      emit(skipped(v) ? null : v)
      continue
    }
    const record = frame.node as Record<string, unknown>
    while (frame.i < frame.keys.length && skipped(record[frame.keys[frame.i]])) frame.i++
    if (frame.i >= frame.keys.length) { out += '}'; stack.pop(); continue }
    const key = frame.keys[frame.i++]
    out += (frame.wrote ? ',' : '') + JSON.stringify(key) + ':'
    frame.wrote = true
    emit(record[key])
  }
  return out
}
