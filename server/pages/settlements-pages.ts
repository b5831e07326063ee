import { formatAmount } from '../../protocol/amounts'
import type { SettlementOpRecord, SettlementRecord } from '../../protocol/settlements'
import type { AppContext } from '../app-context'
import { fieldError, NotFoundError } from '../errors'
import { tokenByAddress } from '../ledger/tokens'
import { getSettlement, listSettlements } from '../settlements/settlements-service'
import { pager, shortHex, statusBadge, timeTag } from './page-format'
import { html, type SafeHtml } from './page-html'
import { renderLayout, type PageHandler } from './page-layout'

// The public settlement records (`GET /v1/settlements`), made readable: each batch the coordinator
// signed, its transaction, what it moved, and its ops with their signers. The records are public
// by design (an auditor recomputes them from the chain), so the page shows what the API shows.

const BATCH_PAGE_SIZE = 20

/** A batch number or page position in an address: digits only, small enough for Postgres' bigint. */
const BATCH_NUMBER = /^[0-9]{1,15}$/

/** `BatchSettled` totals fields, in the order of `ISettlement.TokenTotals`, as a person names them. */
const TOTAL_LABELS: Record<string, string> = {
  escrowLocked: 'escrow locked',
  escrowToPayees: 'paid to workers',
  escrowToPayers: 'refunded to payers',
  resolverFees: 'resolver fees',
  channelFunded: 'channels funded',
  channelSettled: 'channels settled',
  channelRefunded: 'channels refunded',
  withdrawn: 'withdrawn',
  fees: 'fees',
}

/** A batch's totals, per token: its non-zero amounts in token units where the token is known. */
function totalsList(context: AppContext, totals: SettlementRecord['totals']): SafeHtml {
  if (totals === null) return html`<span class="muted">not indexed yet</span>`
  const lines = totals.flatMap((entry) => {
    const token = entry.token ? tokenByAddress(context, entry.token) : null
    return Object.entries(TOTAL_LABELS).flatMap(([field, label]) => {
      const value = entry[field]
      if (value === undefined || !/^[0-9]+$/.test(value) || BigInt(value) === 0n) return []
      const amount = token
        ? `${formatAmount(BigInt(value), token.decimals)} ${token.symbol}`
        : `${value} base units of ${entry.token ?? 'an unknown token'}`
      return [html`<li>${amount} ${label}</li>`]
    })
  })
  if (lines.length === 0) return html`<span class="muted">nothing moved</span>`
  return html`<ul class="plain-list compact">
    ${lines}
  </ul>`
}

function parseBatchNumber(value: string | undefined, where: 'params' | 'query', field: string): number {
  if (value === undefined) return 0
  if (!BATCH_NUMBER.test(value)) {
    if (where === 'params') throw new NotFoundError('settlement_not_found', `batch ${value} not found`)
    throw fieldError(where, field, 'must be a batch number')
  }
  return Number(value)
}

function batchRow(context: AppContext, batch: SettlementRecord): SafeHtml {
  return html`<tr>
    <th scope="row"><a href="/settlements/${batch.batch_number}">Batch ${batch.batch_number}</a></th>
    <td>${statusBadge(batch.status)}</td>
    <td>${shortHex(batch.tx_hash)}</td>
    <td class="num">${batch.block_number ?? '—'}</td>
    <td class="num"><a href="/settlements/${batch.batch_number}#ops">${batch.op_count}</a></td>
    <td>${totalsList(context, batch.totals)}</td>
    <td>${timeTag(batch.confirmed_at ?? batch.created_at)}</td>
  </tr>`
}

/** `/settlements`: settlement batches in order, each with its transaction, op count and totals. */
export const renderSettlementsPage: PageHandler = async (context, assets, request) => {
  const after = parseBatchNumber(request.query.after, 'query', 'after')
  const page = await listSettlements(context, { after, limit: BATCH_PAGE_SIZE })
  const batches = page.settlements
  const first = batches[0]
  return renderLayout(assets, {
    title: 'Settlements',
    description:
      'Every batch the Clearhouse coordinator settled on-chain: transactions, op counts and totals.',
    section: 'settlements',
    main: html`<h1>Settlements</h1>
      <p class="lead">
        The coordinator settles in signed batches of ops on the vault contract. Each batch is public, so
        anyone can recompute it from the chain (<code>clearhouse audit</code>).
      </p>
      ${
        first
          ? html`<p class="muted">
              Chain ${first.chain_id}, vault <code class="break">${first.vault_address}</code>
            </p>`
          : ''
      }
      ${
        batches.length === 0
          ? html`<p class="empty">${after === 0 ? 'No batch has been settled yet.' : 'No later batches.'}</p>`
          : html`<div class="table-scroll">
              <table>
                <caption class="visually-hidden">
                  Settlement batches in order
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Batch</th>
                    <th scope="col">Status</th>
                    <th scope="col">Transaction</th>
                    <th scope="col" class="num">Block</th>
                    <th scope="col" class="num">Ops</th>
                    <th scope="col">Totals</th>
                    <th scope="col">Settled</th>
                  </tr>
                </thead>
                <tbody>
                  ${batches.map((batch) => batchRow(context, batch))}
                </tbody>
              </table>
            </div>`
      }
      ${pager(
        '/settlements',
        {},
        // Batch numbers run 1, 2, 3… with no gap (the vault takes only the next one), so the
        // previous page starts a page size earlier.
        after > 0 ? Math.max(0, after - BATCH_PAGE_SIZE) : null,
        page.next_after,
        { param: 'after', previousLabel: '← Earlier batches', nextLabel: 'Later batches →' },
      )}
      <p class="api-link">
        As JSON: <a href="/v1/settlements"><code>GET /v1/settlements</code></a>
      </p>`,
  })
}

function opRow(op: SettlementOpRecord): SafeHtml {
  const target = op.escrow_id ?? op.channel_id
  return html`<tr>
    <td class="num">${op.index}</td>
    <th scope="row">${op.kind.replace(/_/g, ' ')}</th>
    <td>
      ${statusBadge(op.status)}${op.skip_reason ? html` <span class="muted">${op.skip_reason}</span>` : ''}
    </td>
    <td>
      ${target ? html`${op.escrow_id ? 'escrow' : 'channel'} ${shortHex(target)}` : html`<span class="muted">—</span>`}
    </td>
    <td>
      ${
        op.signatures.length === 0
          ? html`<span class="muted">none</span>`
          : html`<ul class="plain-list compact">
              ${op.signatures.map((signature) => html`<li>${signature.role} ${shortHex(signature.signer, 4)}</li>`)}
            </ul>`
      }
      ${op.call_records ? html`<p class="muted">${op.call_records.calls.length} call records</p>` : ''}
    </td>
    <td>
      <details>
        <summary>Fields</summary>
        <pre class="json">${JSON.stringify(op.fields, null, 2)}</pre>
      </details>
    </td>
  </tr>`
}

/** `/settlements/{batch_number}`: one batch with every op, as `GET /v1/settlements/{batch_number}` has it. */
export const renderSettlementPage: PageHandler = async (context, assets, request) => {
  const batchNumber = parseBatchNumber(request.params.batchNumber, 'params', 'batch_number')
  if (batchNumber < 1) throw new NotFoundError('settlement_not_found', `batch ${batchNumber} not found`)
  const batch = await getSettlement(context, batchNumber)
  return renderLayout(assets, {
    title: `Settlement batch ${batch.batch_number}`,
    description: `Batch ${batch.batch_number}: ${batch.op_count} ops, ${batch.status}.`,
    section: 'settlements',
    main: html`<nav class="crumbs" aria-label="Breadcrumb"><a href="/settlements">Settlements</a></nav>
      <h1>Batch ${batch.batch_number}</h1>
      <dl class="facts">
        <div>
          <dt>Status</dt>
          <dd>${statusBadge(batch.status)}</dd>
        </div>
        <div>
          <dt>Ops</dt>
          <dd>${batch.op_count}</dd>
        </div>
        <div>
          <dt>Block</dt>
          <dd>${batch.block_number ?? '—'}</dd>
        </div>
        <div>
          <dt>Signed</dt>
          <dd>${timeTag(batch.created_at)}</dd>
        </div>
        <div>
          <dt>Confirmed</dt>
          <dd>${timeTag(batch.confirmed_at)}</dd>
        </div>
        <div class="wide">
          <dt>Transaction</dt>
          <dd><code class="break">${batch.tx_hash ?? '—'}</code></dd>
        </div>
        <div class="wide">
          <dt>Ops root</dt>
          <dd><code class="break">${batch.ops_root}</code></dd>
        </div>
        <div class="wide">
          <dt>Coordinator signature</dt>
          <dd><code class="break">${batch.coordinator_signature}</code></dd>
        </div>
        <div class="wide">
          <dt>Totals</dt>
          <dd>${totalsList(context, batch.totals)}</dd>
        </div>
      </dl>
      <section aria-labelledby="ops-heading" id="ops">
        <h2 id="ops-heading">Ops</h2>
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">
              The ops of batch ${batch.batch_number}, in batch order
            </caption>
            <thead>
              <tr>
                <th scope="col" class="num">#</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Acts on</th>
                <th scope="col">Signed by</th>
                <th scope="col">Decoded</th>
              </tr>
            </thead>
            <tbody>
              ${batch.ops.map(opRow)}
            </tbody>
          </table>
        </div>
      </section>
      <p class="api-link">
        As JSON:
        <a href="/v1/settlements/${batch.batch_number}"
          ><code>GET /v1/settlements/${batch.batch_number}</code></a
        >
      </p>`,
  })
}
