import { expect } from 'chai'
import fc from 'fast-check'
import {
  AmountPrecisionError,
  decimalAmount,
  formatAmount,
  numberAsDecimalString,
  parseAmount,
} from '../../../protocol/amounts'

describe('token amounts', () => {
  it('reads a JSON number as the decimal it was written as, exponents spelt out', () => {
    for (const [number, decimal] of [
      [5, '5'],
      [4.5, '4.5'],
      [0.1, '0.1'],
      [0.000001, '0.000001'],
      [1e-7, '0.0000001'],
      [1.5e-7, '0.00000015'],
      [1e21, '1000000000000000000000'],
      [1.25e22, '12500000000000000000000'],
      [123456789.123456, '123456789.123456'],
    ] as const) {
      expect(numberAsDecimalString(number), String(number)).to.equal(decimal)
    }
    expect(decimalAmount.parse(4.5)).to.equal('4.5')
    expect(decimalAmount.safeParse(-1).success).to.equal(false)
    expect(decimalAmount.safeParse(Number.NaN).success).to.equal(false)
    expect(decimalAmount.safeParse(true).success).to.equal(false)
  })

  it('never changes the value of a number it spells out: the decimal reads back as the same double', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }), (value) => {
        const decimal = numberAsDecimalString(value) as string
        expect(decimal).to.match(/^\d+(\.\d+)?$/)
        expect(Number(decimal)).to.equal(value === 0 ? 0 : value)
      }),
      { numRuns: 2000 },
    )
  })

  it('parses decimal strings into base units without a JavaScript number', () => {
    expect(parseAmount('5.25', 6)).to.equal(5_250_000n)
    expect(parseAmount('100.00', 6)).to.equal(100_000_000n)
    expect(parseAmount('0.000001', 6)).to.equal(1n)
    expect(parseAmount('123456789012345678901234567890', 18)).to.equal(
      123456789012345678901234567890n * 10n ** 18n,
    )
    expect(parseAmount('7', 0)).to.equal(7n)
  })

  it('refuses more fractional digits than the token has, but ignores trailing zeros', () => {
    expect(() => parseAmount('0.0000001', 6)).to.throw(AmountPrecisionError)
    expect(parseAmount('1.500000000', 6)).to.equal(1_500_000n)
  })

  it('formats base units as the shortest decimal string', () => {
    expect(formatAmount(5_250_000n, 6)).to.equal('5.25')
    expect(formatAmount(100_000_000n, 6)).to.equal('100')
    expect(formatAmount(1n, 6)).to.equal('0.000001')
    expect(formatAmount(0n, 6)).to.equal('0')
    expect(formatAmount(-1_500_000n, 6)).to.equal('-1.5')
    expect(formatAmount(42n, 0)).to.equal('42')
  })

  it('round-trips every amount at every precision', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 256n), max: 2n ** 256n }),
        fc.integer({ min: 0, max: 36 }),
        (units, decimals) => {
          expect(parseAmount(formatAmount(units, decimals), decimals)).to.equal(units)
        },
      ),
    )
  })

  for (const good of ['0', '5', '5.25', '0.000001', '100.00']) {
    it(`accepts "${good}" on the wire`, () => {
      expect(decimalAmount.safeParse(good).success).to.equal(true)
    })
  }
  for (const bad of ['', '-1', '1e6', '01', '.5', '5.', ' 5', '0x10', 'NaN', '1,5']) {
    it(`rejects ${JSON.stringify(bad)} on the wire`, () => {
      expect(decimalAmount.safeParse(bad).success).to.equal(false)
    })
  }
})
