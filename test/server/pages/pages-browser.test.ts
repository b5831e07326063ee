import { expect } from 'chai'
import { existsSync, mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { postJob } from '../helpers/jobs'
import { buildPagesWorld, type PagesWorld } from './pages-world'

/** Debian's Chromium: the browser this test drives (playwright-core downloads none). */
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
]
const ROOT = path.resolve(__dirname, '../../..')
/** Screenshots of every page at each width, kept as the run's artifacts (not committed). */
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'pages')
/**
 * The dashboard as the README shows it (committed): rewritten only when asked
 * (`UPDATE_README_SCREENSHOT=1`), so a test run leaves the checkout as it found it.
 */
const README_SCREENSHOT = path.join(ROOT, 'docs', 'dashboard.png')
const isReadmeScreenshotWanted = process.env.UPDATE_README_SCREENSHOT === '1'

const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
} as const
type ViewportName = keyof typeof VIEWPORTS

/** What went wrong in a page while it was open: console errors, uncaught exceptions, failed loads. */
interface PageProblems {
  problems: string[]
}

/**
 * Issue 16, the pages in a real browser: headless Chromium loads every page at a desktop and a
 * phone width with no console error, no uncaught exception and no failed request (the app's
 * Content-Security-Policy on, so an inline script or an outside asset would show here), nothing
 * wider than a phone's screen, the API viewer rendered from the coordinator's own copy, and the
 * dashboard's feed showing a job created after the page loaded. Each page's screenshot is saved
 * under test-artifacts/pages/ (and, with UPDATE_README_SCREENSHOT=1, the dashboard's to docs/dashboard.png).
 */
describe('public pages in Chromium', () => {
  let world: PagesWorld
  let server: Server
  let baseUrl: string
  let browser: Browser
  const contexts: BrowserContext[] = []

  before(async function () {
    this.timeout(240_000)
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the browser test needs Debian's Chromium at ${CHROMIUM}, which is missing: apt-get install chromium`,
      )
    }
    mkdirSync(ARTIFACTS, { recursive: true })
    world = await buildPagesWorld()
    server = world.app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  })
  after(async function () {
    this.timeout(30_000)
    for (const context of contexts) await context.close().catch(() => undefined)
    await browser?.close()
    server?.closeAllConnections()
    server?.close()
    await world?.stop()
  })

  async function open(viewport: ViewportName): Promise<{ page: Page } & PageProblems> {
    const context = await browser.newContext({ ...VIEWPORTS[viewport], colorScheme: 'light' })
    contexts.push(context)
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    page.on('pageerror', (error) => problems.push(`exception: ${error.message}`))
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} for ${response.url()}`)
    })
    page.on('requestfailed', (request) => {
      // Leaving a page aborts its feed stream; that is not a failure.
      if (request.failure()?.errorText !== 'net::ERR_ABORTED') {
        problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`)
      }
    })
    return { page, problems }
  }

  /** The pages to load, by screenshot name, and what shows each is fully rendered. */
  function pages(): { name: string; path: string; ready: string }[] {
    const { completed } = world.jobs
    return [
      { name: 'home', path: '/', ready: 'h1' },
      { name: 'jobs', path: '/jobs', ready: '.cards' },
      { name: 'job', path: `/jobs/${completed.job_id}`, ready: '.facts' },
      { name: 'agents', path: '/agents?sort_by=earned', ready: 'table' },
      { name: 'agent', path: `/agents/${world.agents.worker.agent.handle}`, ready: '.facts' },
      { name: 'dashboard', path: '/dashboard', ready: '#feed li' },
      { name: 'settlements', path: '/settlements', ready: 'table' },
      { name: 'settlement', path: '/settlements/1', ready: '#ops table' },
      { name: 'docs', path: '/docs', ready: '.swagger-ui .opblock' },
      { name: 'not-found', path: '/jobs/00000000-0000-4000-8000-000000000000', ready: 'h1' },
    ]
  }

  for (const viewport of Object.keys(VIEWPORTS) as ViewportName[]) {
    it(`loads every page at ${viewport} width with no error, nothing wider than the screen`, async function () {
      this.timeout(120_000)
      const { page, problems } = await open(viewport)
      for (const target of pages()) {
        const response = await page.goto(`${baseUrl}${target.path}`, { waitUntil: 'load' })
        expect(response?.status(), target.path).to.equal(target.name === 'not-found' ? 404 : 200)
        await page.waitForSelector(target.ready, { timeout: 15_000 })
        if (target.name === 'dashboard') await page.waitForSelector('#feed-status[data-state="live"]')
        // A string, evaluated in the page: this file is compiled without the DOM's types.
        const overflow = (await page.evaluate(
          'document.documentElement.scrollWidth - document.documentElement.clientWidth',
        )) as number
        expect(overflow, `${target.path} scrolls sideways at ${viewport} width`).to.be.at.most(0)
        await page.screenshot({
          path: path.join(ARTIFACTS, `${target.name}-${viewport}.png`),
          fullPage: true,
        })
        // The 404 page's own status (asserted above) is reported twice; anything else is a problem.
        const unexpected =
          target.name === 'not-found'
            ? problems.filter((problem) => !/^404 for .*\/jobs\/|status of 404/.test(problem))
            : problems
        expect(unexpected, `${target.path} at ${viewport} width`).to.deep.equal([])
        problems.length = 0
      }
    })
  }

  it('shows in the dashboard feed a job created after the page loaded, and announces it', async function () {
    this.timeout(60_000)
    const { page, problems } = await open('desktop')
    await page.goto(`${baseUrl}/dashboard`, { waitUntil: 'load' })
    await page.waitForSelector('#feed-status[data-state="live"]')
    await page.waitForSelector('#feed li')
    const title = 'Summarize the weekly incident reports'
    const job = await postJob(world.app, world.agents.creator.apiKey, {
      title,
      description:
        'Read the seven incident reports of the week and write a one-page summary of causes and fixes.',
      tags: ['writing', 'ops'],
      budget_amount: '8',
    })
    const item = page.locator('#feed li').first()
    await item.locator('.feed-title', { hasText: title }).waitFor({ timeout: 10_000 })
    expect(await item.getAttribute('data-event-type')).to.equal('job_created')
    expect(await item.locator('.feed-title').getAttribute('href')).to.equal(`/jobs/${job.job_id}`)
    expect(await item.textContent()).to.contain('budget 8 USDC')
    // The feed carries agent ids; the page names each agent by its handle, from its public profile.
    await page.waitForFunction(
      "![...document.querySelectorAll('#feed a')].some((link) => link.textContent.startsWith('agent '))",
    )
    expect(await item.textContent()).to.contain(`by ${world.agents.creator.agent.handle}`)
    expect(await page.locator('#feed-announcer').textContent()).to.equal(`New job: ${title}`)
    expect(await page.locator('#feed-empty').isHidden()).to.equal(true)
    if (isReadmeScreenshotWanted) await page.screenshot({ path: README_SCREENSHOT, fullPage: true })
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-live-desktop.png'), fullPage: true })
    expect(problems).to.deep.equal([])
  })
})
