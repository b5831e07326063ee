import { expect } from 'chai'
import fc from 'fast-check'
import { CanonicalJsonError, canonicalJson } from '../../../protocol/canonical-json'

describe('RFC 8785 canonical JSON', () => {
  it('matches the RFC 8785 §3.2.2 example byte for byte', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    )
    expect(canonicalJson(input)).to.equal(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    )
  })

  it('sorts keys by UTF-16 code units as in the RFC 8785 §3.2.3 example', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",' +
        '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}',
    )
    expect(canonicalJson(input)).to.equal(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
  })

  it('serializes numbers the ECMAScript way, including -0, exponents and the largest double', () => {
    expect(
      canonicalJson([0, -0, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308]),
    ).to.equal('[0,0,1e+21,1e-7,123456789012345680000,5e-324,1.7976931348623157e+308]')
  })

  it('nests objects and arrays without whitespace and drops undefined members', () => {
    expect(canonicalJson({ b: [1, { d: 2, c: undefined, a: 'x' }], a: {} })).to.equal(
      '{"a":{},"b":[1,{"a":"x","d":2}]}',
    )
  })

  it('escapes control characters with lowercase \\u00xx and keeps other characters literal', () => {
    expect(canonicalJson('\u0000\u001f\t\b\f é')).to.equal('"\\u0000\\u001f\\t\\b\\f é"')
  })

  for (const [name, value] of [
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['a bigint', 1n],
    ['a function', () => 1],
    ['a lone surrogate', '\ud800'],
    ['a Date', new Date(0)],
  ] as const) {
    it(`rejects ${name} with the path of the bad value`, () => {
      expect(() => canonicalJson({ outer: [value] }))
        .to.throw(CanonicalJsonError)
        .with.property('path', '$.outer[0]')
    })
  }

  it('is stable: parsing and re-canonicalizing any JSON value gives the same text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value)
        expect(canonicalJson(JSON.parse(text))).to.equal(text)
      }),
    )
  })

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (record) => {
        const reversed = Object.fromEntries(Object.entries(record).reverse())
        expect(canonicalJson(reversed)).to.equal(canonicalJson(record))
      }),
    )
  })
})
