import { expect } from 'chai'
import { encodeAbiParameters, hashTypedData, keccak256, concat, type Hex } from 'viem'
import {
  callRecordAbi,
  callRecordHash,
  GENESIS_CALL_CHAIN,
  nextCallChain,
  nextVoucher,
  requestHashOf,
  voucherDigest,
  voucherDomainSeparator,
  voucherTypedData,
} from '../../../protocol/channels'
import { clearhouseDomain } from '../../../protocol/typed-data'
import { nativeKeccak256 } from '../../../server/crypto/native-keccak'

const CHANNEL_ID: Hex = `0x${'ab'.repeat(32)}`
const DOMAIN = clearhouseDomain(31337, '0x5FbDB2315678afecb367f032d93F642f64180aa3')

/** The call chain and vouchers as an auditor recomputes them, against the fast paths the coordinator uses. */
describe('the call chain and vouchers (protocol/channels.ts)', () => {
  it('hashes a call record as abi.encode(channelId, sequence, amount, requestHash)', () => {
    const record = {
      channelId: CHANNEL_ID,
      sequence: 7n,
      amount: 12_345n,
      requestHash: requestHashOf({ q: 1 }),
    }
    const encoded = encodeAbiParameters(callRecordAbi, [
      record.channelId,
      record.sequence,
      record.amount,
      record.requestHash,
    ])
    expect(callRecordHash(record)).to.equal(keccak256(encoded))
  })

  it('hashes a request by its RFC 8785 canonical JSON, so key order does not matter', () => {
    expect(requestHashOf({ b: 1, a: [1, 'x'] })).to.equal(requestHashOf({ a: [1, 'x'], b: 1 }))
    expect(requestHashOf({ a: 1 })).not.to.equal(requestHashOf({ a: 2 }))
    expect(requestHashOf(undefined)).to.equal(requestHashOf(null))
  })

  it('chains calls: callChain_n = keccak256(callChain_{n-1} ‖ callRecordHash_n)', () => {
    let state = {
      channelId: CHANNEL_ID,
      lastSequence: 0n,
      cumulativeAmount: 0n,
      callChain: GENESIS_CALL_CHAIN,
    }
    const records = []
    for (const input of ['one', 'two', 'three']) {
      const { voucher, record } = nextVoucher(state, { amount: 10n, input })
      records.push(record)
      state = {
        ...state,
        lastSequence: voucher.sequence,
        cumulativeAmount: voucher.cumulativeAmount,
        callChain: voucher.callChain,
      }
    }
    const recomputed = records.reduce(
      (chain, record) => keccak256(concat([chain, callRecordHash(record)])),
      GENESIS_CALL_CHAIN,
    )
    expect(state).to.deep.include({ lastSequence: 3n, cumulativeAmount: 30n, callChain: recomputed })
    expect(nextCallChain(GENESIS_CALL_CHAIN, callRecordHash(records[0]!))).not.to.equal(recomputed)
  })

  it('computes the voucher digest exactly as EIP-712 (viem hashTypedData) does', () => {
    const voucher = {
      channelId: CHANNEL_ID,
      sequence: 42n,
      cumulativeAmount: 10n ** 18n,
      callChain: `0x${'cd'.repeat(32)}` as Hex,
    }
    expect(voucherDigest(voucherDomainSeparator(DOMAIN), voucher)).to.equal(
      hashTypedData(voucherTypedData(DOMAIN, voucher)),
    )
  })

  it('gives the same hashes with the coordinator’s native keccak as with viem’s', () => {
    const record = { channelId: CHANNEL_ID, sequence: 3n, amount: 99n, requestHash: requestHashOf('x') }
    const voucher = {
      channelId: CHANNEL_ID,
      sequence: 3n,
      cumulativeAmount: 297n,
      callChain: GENESIS_CALL_CHAIN,
    }
    const separator = voucherDomainSeparator(DOMAIN)
    expect(requestHashOf({ a: [1, 'é'] }, nativeKeccak256)).to.equal(requestHashOf({ a: [1, 'é'] }))
    expect(callRecordHash(record, nativeKeccak256)).to.equal(callRecordHash(record))
    expect(nextCallChain(GENESIS_CALL_CHAIN, CHANNEL_ID, nativeKeccak256)).to.equal(
      nextCallChain(GENESIS_CALL_CHAIN, CHANNEL_ID),
    )
    expect(voucherDigest(separator, voucher, nativeKeccak256)).to.equal(voucherDigest(separator, voucher))
    expect(nativeKeccak256(new Uint8Array(0))).to.equal(keccak256(new Uint8Array(0)))
  })
})
