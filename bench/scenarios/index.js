// The scenario registry. A scenario is a module exporting:
//   name, title, inDefault (run without --only?), needsCpuRoute (calibrate the ~20 ms route?),
//   optional cpuMs(cfg) (its own CPU route cost, calibrated once per cost and passed to its
//   servers as BENCH_CPU_ITERATIONS), optional prepare(cfg) → log lines (runs before any
//   process starts; may fill cfg, throw on bad options),
//   variants(cfg) → [{ name, label, script (a bench/servers/*.js URL), env? }],
//   warmup(ctx), measure(ctx) → { requests, failed, ...numbers } for one run,
//   columns → [{ key, label, digits }], summary(mediansByVariant, cfg) → lines.
// ctx = { cfg, srv (bench/lib/server.js), variant, loads: [LoadGen, LoadGen] }. The orchestrator
// adds cpuUsPerReq (server CPU time / requests) and rssMB to each run. To add a comparison,
// write a module here and list it below.
import advisor from './advisor.js'
import breakdown from './breakdown.js'
import connections from './connections.js'
import dispatch, { dispatchDeep } from './dispatch.js'
import dispatchSlow from './dispatch-slow.js'
import express from './express.js'
import isolation from './isolation.js'
import { json, jsonDeep } from './json.js'
import mpm from './mpm.js'
import pools from './pools.js'
import protection from './protection.js'
import scaling from './scaling.js'
import stream from './stream.js'

export const scenarios = [protection, dispatch, dispatchDeep, json, jsonDeep, dispatchSlow, breakdown, mpm, scaling, connections, express, advisor, pools, isolation, stream]
