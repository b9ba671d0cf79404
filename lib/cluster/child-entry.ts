// What node:cluster runs in each child (the primary's `exec`): the user's start script is not
// re-executed, so nothing it does before calling cluster() happens N more times.
import { readChildConfig, runChild } from './child.js'

await runChild(readChildConfig())
