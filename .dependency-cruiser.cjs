/**
 * The architecture rules of ../shared/STYLE.md as checks (`npm run lint` runs them): folders are
 * rooms, a room owns its SQL, the wire contract depends on nothing of ours, and the chain and the
 * ledger know nothing of HTTP.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: neither can be understood, tested or moved alone.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'queries-stay-in-their-room',
      severity: 'error',
      comment:
        "A room's SQL (`*-queries.ts`) is its own: other rooms call its service API, so a table has one owner.",
      from: { path: '^server/(.+)/[^/]+$' },
      to: { path: '^server/.+-queries\\.ts$', pathNot: '^server/$1/[^/]+-queries\\.ts$' },
    },
    {
      name: 'protocol-imports-nothing-of-ours',
      severity: 'error',
      comment: 'protocol/ is the wire contract shared by server, SDK and tests; it depends on none of them.',
      from: { path: '^protocol/' },
      to: { path: '^(server|scripts|test|sdk)/' },
    },
    {
      name: 'sdk-stands-apart-from-the-server',
      severity: 'error',
      comment:
        'The SDK, the CLI and the auditor talk to a coordinator over its API and to the chain; the auditor trusts nothing of the server it could check.',
      from: { path: '^sdk/' },
      to: { path: '^(server|scripts|test)/' },
    },
    {
      name: 'chain-and-ledger-know-no-http',
      severity: 'error',
      comment: 'The money core runs in workers and tests without a request; HTTP is an edge.',
      from: { path: '^server/(chain|ledger)/' },
      to: { path: '^server/http/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|artifacts|cache|typechain-types|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
}
