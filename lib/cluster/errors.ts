import createError from '@fastify/error'

// Cluster errors, each with a stable `code` (see lib/errors.ts for the plugin's own).

export const FST_MPM_BOOT_FAILED = createError<'FST_MPM_BOOT_FAILED', 500, [string, string]>(
  'FST_MPM_BOOT_FAILED', 'fastify-mpm: process %s failed to boot: %s', 500)
export const FST_MPM_RELOAD_FAILED = createError<'FST_MPM_RELOAD_FAILED', 500, [string]>(
  'FST_MPM_RELOAD_FAILED', 'fastify-mpm: reload stopped, the old processes keep serving: %s', 500)
export const FST_MPM_CRASH_LOOP = createError<'FST_MPM_CRASH_LOOP', 500, [number, number]>(
  'FST_MPM_CRASH_LOOP', 'fastify-mpm: crash loop: %s processes crashed within %s ms; the cluster stopped', 500)
export const FST_MPM_CLUSTER_STOPPED = createError<'FST_MPM_CLUSTER_STOPPED', 500, [string]>(
  'FST_MPM_CLUSTER_STOPPED', 'fastify-mpm: cannot %s: the cluster is stopping', 500)
export const FST_MPM_NOT_PRIMARY = createError(
  'FST_MPM_NOT_PRIMARY', 'fastify-mpm: cluster() must be called in the primary process; its children run fastify-mpm\'s own entry', 500)
