// Type tests (tsd) for the advisor's option and its ?json rows (issue 19).
import { expectAssignable, expectNotAssignable, expectType } from 'tsd'
import type { AdvisorOptions, LoopTimeRow, MpmOptions, ServerStatus } from 'fastify-mpm'

expectAssignable<MpmOptions>({ advisor: true })
expectAssignable<MpmOptions>({ advisor: false })
expectAssignable<MpmOptions>({ advisor: { thresholdMs: 50, window: 60_000 } })
expectNotAssignable<MpmOptions>({ advisor: { thresholdMs: '50' } })
expectAssignable<AdvisorOptions>({})
declare const status: ServerStatus
expectType<LoopTimeRow[] | undefined>(status.loopTime)
declare const row: LoopTimeRow
expectType<{ p50: number, p99: number, max: number, total: number }>(row.blockedMs)
expectType<boolean>(row.offloaded)
