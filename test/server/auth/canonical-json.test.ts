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

  it('attack: 100,000 nested arrays and objects -> canonicalized without recursion, no stack overflow', () => {
    const levels = 100_000
    const arrays = `${'['.repeat(levels)}${']'.repeat(levels)}`
    expect(canonicalJson(JSON.parse(arrays))).to.equal(arrays)
    const objects = `${'{"b":1,"a":'.repeat(levels)}null${'}'.repeat(levels)}`
    expect(canonicalJson(JSON.parse(objects))).to.equal(
      `${'{"a":'.repeat(levels)}null${',"b":1}'.repeat(levels)}`,
    )
  })

  it('reports the path of a bad value deep inside nesting', () => {
    let value: unknown = [NaN]
    for (let level = 0; level < 3; level += 1) value = { k: value }
    expect(() => canonicalJson(value))
      .to.throw(CanonicalJsonError)
      .with.property('path', '$.k.k.k[0]')
  })

  it('rejects a value that contains itself instead of looping, and accepts a shared one', () => {
    const cyclic: Record<string, unknown> = { a: [1] }
    ;(cyclic.a as unknown[]).push(cyclic)
    expect(() => canonicalJson(cyclic))
      .to.throw(CanonicalJsonError)
      .with.property('path', '$.a[1]')
    const shared = { x: 1 }
    expect(canonicalJson({ b: shared, a: [shared, shared] })).to.equal('{"a":[{"x":1},{"x":1}],"b":{"x":1}}')
  })

  it('writes a hole in a sparse array as null, as JSON.stringify does', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(canonicalJson([1, , 3])).to.equal('[1,null,3]')
  })

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
