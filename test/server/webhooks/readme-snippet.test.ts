import { expect } from 'chai'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { webhookSignature } from '../../../protocol/webhooks'

type Verify = (rawBody: string, header: string, secret: string, toleranceSeconds?: number) => boolean

/** The README's verification snippet (the ```js block of "Signed webhooks"), as a receiver would paste it. */
async function readmeVerifier(): Promise<Verify> {
  const readme = await readFile(path.resolve(__dirname, '../../../README.md'), 'utf8')
  const start = readme.indexOf('### Signed webhooks')
  expect(start, 'README has "### Signed webhooks"').to.be.greaterThan(-1)
  const open = readme.indexOf('```js\n', start)
  const code = readme.slice(open + 6, readme.indexOf('\n```', open + 6))
  return new Function('require', `${code}\nreturn verifyClearhouseSignature`)(require) as Verify
}

/** Issue 16: the README's snippet accepts the coordinator's signatures and refuses replays and forgeries. */
describe('webhooks: the README’s verification snippet', () => {
  const secret = 'whsec_readme_test_secret'
  const body = JSON.stringify({ delivery_id: 'd', event: 'task.posted', data: { job_title: 'Ünïcode ✓' } })
  const now = () => Math.floor(Date.now() / 1000)

  it('verifies a signature the coordinator makes', async () => {
    const verify = await readmeVerifier()
    expect(verify(body, webhookSignature(secret, now(), body), secret)).to.equal(true)
    expect(
      verify(Buffer.from(body) as unknown as string, webhookSignature(secret, now(), body), secret),
    ).to.equal(true)
  })

  it('refuses a replayed delivery whose timestamp is older than the tolerance', async () => {
    const verify = await readmeVerifier()
    expect(verify(body, webhookSignature(secret, now() - 301, body), secret)).to.equal(false)
    expect(verify(body, webhookSignature(secret, now() + 301, body), secret)).to.equal(false)
    expect(verify(body, webhookSignature(secret, now() - 100, body), secret)).to.equal(true)
  })

  it('refuses a changed body, another secret, a changed timestamp and malformed headers', async () => {
    const verify = await readmeVerifier()
    const header = webhookSignature(secret, now(), body)
    expect(verify(body.replace('task', 'tusk'), header, secret)).to.equal(false)
    expect(verify(body, header, 'whsec_other')).to.equal(false)
    const [, mac] = header.split(',')
    expect(verify(body, `t=${now() - 1},${mac}`, secret)).to.equal(false)
    for (const bad of ['', 'garbage', `t=${now()}`, `t=${now()},v1=zz`, `t=${now()},v1=${'0'.repeat(63)}`]) {
      expect(verify(body, bad, secret), bad).to.equal(false)
    }
  })
})
