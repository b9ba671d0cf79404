// The status page in a real browser: Debian's chromium, headless, driven by playwright-core,
// against a 3-process × 3-thread cluster under light load, on a 1280×800 screen: the page must
// fit it (no sideways scroll, RSS and connections in view). Skipped (with the reason) where
// /usr/bin/chromium is missing; CI installs it in .ci/run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { cluster } from 'fastify-mpm'
import { tempDir, waitFor } from '../helpers/util.js'

const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = fileURLToPath(new URL('../output/', import.meta.url))
const PROCESSES = 3
const THREADS = 3

/** A few requests at a time until stopped, so the page shows a server at work; counts failures. */
function lightLoad (url) {
  const pool = new Pool(url, { connections: 2 })
  const stats = { ok: 0, failed: [] }
  let stopped = false
  const lane = async (path) => {
    while (!stopped) {
      try {
        const res = await pool.request({ path, method: 'GET' })
        await res.body.dump()
        if (res.statusCode === 200) stats.ok++
        else stats.failed.push(res.statusCode)
      } catch (err) {
        stats.failed.push(err.code ?? err.message)
      }
      await sleep(25)
    }
  }
  // Short tasks only, so a W that stays across several page loads is the long request's.
  const lanes = Promise.all([lane('/quick'), lane('/pid')])
  return { stats, async stop () { stopped = true; await lanes; await pool.close() } }
}

test('the scoreboard in headless chromium: one cell per thread slot, a W while a long request runs', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`chromium not found at ${CHROMIUM}`)
    return
  }
  const { chromium } = await import('playwright-core')
  const dir = tempDir('fastify-mpm-browser-')
  t.after(() => dir.remove())
  mkdirSync(OUTPUT, { recursive: true })

  const handle = await cluster({
    app: new URL('../fixtures/status/app.js', import.meta.url),
    processes: PROCESSES,
    threads: THREADS,
    listen: { port: 0, host: '127.0.0.1' },
    gracefulTimeout: 5000,
    signals: false,
    logger: false
  })
  t.after(async () => {
    const pids = handle.children().map((c) => c.pid)
    await Promise.race([handle.stop(), sleep(10_000)])
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
  })
  const url = handle.address.url

  const browser = await chromium.launchPersistentContext(dir.file('profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 }
  })
  t.after(() => browser.close())
  const page = browser.pages()[0] ?? await browser.newPage()

  const load = lightLoad(url)
  const gate = dir.gate('long-request')
  let long
  try {
    await waitFor(() => load.stats.ok >= 10, { timeoutMs: 15_000, what: 'the light load to get going' })
    const response = await page.goto(`${url}/server-status`)
    assert.equal(response.status(), 200)
    assert.equal(await page.title(), 'Server status · fastify-mpm')
    assert.equal(await page.locator('#scoreboard .grid').count(), PROCESSES, 'one grid row per process')
    assert.equal(await page.locator('#scoreboard .grid .cell').count(), PROCESSES * THREADS, 'one cell per thread slot')

    // A 1280 px screen shows the whole page's width: no sideways scroll, and the Processes
    // table's last columns (connections, RSS) inside the window, not scrolled off in their box.
    const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }))
    assert.ok(width.scroll <= width.client, `no horizontal scroll at 1280×800: scrollWidth ${width.scroll} > clientWidth ${width.client}`)
    const table = page.locator('#processes')
    assert.equal(await table.locator('tbody tr').count(), PROCESSES)
    for (const header of ['keep-alive', 'writing', 'closing', 'RSS']) {
      const box = await table.locator('th', { hasText: new RegExp(`^${header}$`) }).boundingBox()
      assert.ok(box !== null && box.x >= 0 && box.x + box.width <= width.client, `${header} is in view: ${JSON.stringify(box)}`)
    }
    const scroller = await table.evaluate((t) => ({ scroll: t.parentElement.scrollWidth, client: t.parentElement.clientWidth }))
    assert.ok(scroller.scroll <= scroller.client, `the Processes table fits its box: ${JSON.stringify(scroller)}`)
    assert.match(await table.locator('tbody tr').first().locator('td').last().textContent(), /^\d[\d,]*\.\d MB$/, 'RSS shown')

    long = fetch(`${url}/gate?gate=${encodeURIComponent(gate.path)}`)
    // Reload until a W shows on three page loads in a row: a sub-millisecond task of the light
    // load cannot stay that long, the long request does.
    let streak = 0
    await waitFor(async () => {
      await page.goto(`${url}/server-status`)
      const busy = await page.locator('#scoreboard .grid .cell[data-state="busy"]').count()
      streak = busy >= 1 ? streak + 1 : 0
      return streak >= 3
    }, { timeoutMs: 20_000, intervalMs: 150, what: 'a busy (W) cell on three page loads in a row' })
    const busy = page.locator('#scoreboard .grid .cell[data-state="busy"]').first()
    assert.equal(await busy.textContent(), 'W')
    assert.match(await busy.getAttribute('title'), /running a handler/)
    assert.equal(await page.locator('#scoreboard .grid .cell').count(), PROCESSES * THREADS)
    assert.match(await page.locator('header').textContent(), new RegExp(`cluster of ${PROCESSES} processes`))
    await page.screenshot({ path: `${OUTPUT}status-page.png`, fullPage: true })
  } finally {
    gate.open()
  }
  assert.equal((await long).status, 200)
  await load.stop()
  assert.deepEqual(load.stats.failed, [], 'no request of the light load failed')
  assert.ok(existsSync(`${OUTPUT}status-page.png`))
})
