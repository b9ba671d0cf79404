import createError from '@fastify/error'

// Every error the package raises has a stable `code`, so callers (and tests) never match on text.

// Startup: these fail `register` / `ready()`, never a request.
export const FST_MPM_INVALID_OPTION = createError(
  'FST_MPM_INVALID_OPTION', 'fastify-mpm: option "%s" %s', 500, TypeError)
export const FST_MPM_HANDLER_MODULE = createError(
  'FST_MPM_HANDLER_MODULE', 'fastify-mpm: %s: cannot load handler module %s: %s', 500)
export const FST_MPM_HANDLER_EXPORT = createError<'FST_MPM_HANDLER_EXPORT', 500, [string, string, string, string]>(
  'FST_MPM_HANDLER_EXPORT', 'fastify-mpm: %s: module %s has no exported function "%s" (exports: %s)', 500)
export const FST_MPM_NOT_REGISTERED = createError(
  'FST_MPM_NOT_REGISTERED', 'fastify-mpm: route %s uses offload() but the fastify-mpm plugin is not registered on this instance', 500)
export const FST_MPM_INVALID_HANDLER = createError(
  'FST_MPM_INVALID_HANDLER', 'fastify-mpm: offload(): %s', 500, TypeError)
export const FST_MPM_UNKNOWN_POOL = createError<'FST_MPM_UNKNOWN_POOL', 500, [string, string, string]>(
  'FST_MPM_UNKNOWN_POOL', 'fastify-mpm: %s uses pool "%s", which the plugin\'s `pools` option does not name (pools: %s)', 500, TypeError)

// Per request: overload, timeout, thread failures.
export const FST_MPM_QUEUE_FULL = createError(
  'FST_MPM_QUEUE_FULL', 'Server busy: all threads are busy and %s tasks are already queued', 503)
export const FST_MPM_QUEUE_TIMEOUT = createError(
  'FST_MPM_QUEUE_TIMEOUT', 'Server busy: no thread became free within %s ms', 503)
export const FST_MPM_TASK_TIMEOUT = createError(
  'FST_MPM_TASK_TIMEOUT', 'Offloaded handler timed out after %s ms; its thread (or child process) was terminated', 503)
export const FST_MPM_THREAD_START_TIMEOUT = createError(
  'FST_MPM_THREAD_START_TIMEOUT', 'No thread started this request within %s ms (starting a thread and loading the route\'s module)', 503)
export const FST_MPM_THREAD_EXITED = createError(
  'FST_MPM_THREAD_EXITED', 'The thread running this request exited unexpectedly (exit code %s)', 500)
export const FST_MPM_THREAD_CRASHED = createError(
  'FST_MPM_THREAD_CRASHED', 'The thread running this request crashed: %s', 500)
export const FST_MPM_PROCESS_CRASHED = createError(
  'FST_MPM_PROCESS_CRASHED', 'The process running this request died (%s)', 500)
export const FST_MPM_NOT_CLONEABLE = createError(
  'FST_MPM_NOT_CLONEABLE', 'Offloaded handler produced a value that cannot cross threads: %s', 500)
export const FST_MPM_TASK_DROPPED = createError(
  'FST_MPM_TASK_DROPPED', 'Task dropped before it ran: the client went away', 503)
export const FST_MPM_STREAM_TIMEOUT = createError(
  'FST_MPM_STREAM_TIMEOUT', 'Streamed response made no progress for %s ms; the stream was ended', 503)
export const FST_MPM_STREAM_LOST = createError(
  'FST_MPM_STREAM_LOST', 'The thread streaming this response ended without finishing it: %s', 500)
export const FST_MPM_BODY_CONSUMED = createError(
  'FST_MPM_BODY_CONSUMED', 'fastify-mpm: route %s streams its request body (body: \'stream\') but the body was already read by a body parser; mount the route before any body parser', 500)
export const FST_MPM_CLOSING = createError(
  'FST_MPM_CLOSING', 'Server is shutting down', 503)

// Internal: a thread retired after maxTasksPerThread; tasks caught by it never started and are re-run.
export const FST_MPM_THREAD_RETIRED = createError(
  'FST_MPM_THREAD_RETIRED', 'Thread retired after %s tasks', 500)
