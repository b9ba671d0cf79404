// The scenario registry. A scenario is a module exporting:
//   name, title, inDefault (run without --only?), needsCpuRoute (calibrate the ~20 ms route?),
//   variants(cfg) → [{ name, label, script (a bench/servers/*.js URL), env? }],
//   warmup(ctx), measure(ctx) → { requests, failed, ...numbers } for one run,
//   columns → [{ key, label, digits }], summary(mediansByVariant, cfg) → lines.
// ctx = { cfg, srv (bench/lib/server.js), variant, loads: [LoadGen, LoadGen] }. The orchestrator
// adds cpuUsPerReq (server CPU time / requests) and rssMB to each run. To add a comparison,
// write a module here and list it below.
import breakdown from './breakdown.js'
import dispatch from './dispatch.js'
import protection from './protection.js'

export const scenarios = [protection, dispatch, breakdown]
