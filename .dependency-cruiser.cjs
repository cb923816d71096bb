/**
 * The direction of imports between rooms (CLAUDE.md draws it):
 *
 *   surfaces   cli/ slack/                     → client/ and anything below
 *   client     client/                         → core/ (workflows/ as types only)
 *   workflows  workflows/ (deterministic)      → core/contract, core/validate (activities/ as types only)
 *   worker     worker/                         → activities/, docker/, core/ (workflows/ as types only)
 *   activities activities/                     → docker/, providers/, render/, core/ (workflows/ as types only)
 *   adapters   docker/ providers/ render/      → core/
 *   core       core/                           → nothing of ours
 *
 * Each rule below forbids what a room may not import; together they make the rooms a one-way
 * graph (so there can be no cycle between rooms). `test/static.test.ts` runs this in CI.
 */
const SOURCE = '^(core|client|docker|render|providers|activities|workflows|worker|cli|slack|cluster|scripts)/';
/** A room that may import only the listed rooms (and itself), values and types alike. */
const allowOnly = (from, allowed) => ({
  name: `${from}-imports`,
  comment: `${from}/ may import only ${allowed.length ? allowed.join(', ') : 'itself'}`,
  severity: 'error',
  from: { path: `^${from}/` },
  to: { path: SOURCE, pathNot: `^(${[from, ...allowed].join('|')})/` },
});

module.exports = {
  forbidden: [
    allowOnly('core', []),
    allowOnly('docker', ['core']),
    allowOnly('providers', ['core']),
    allowOnly('render', ['core']),
    {
      name: 'activities-imports',
      comment: 'activities/ may import adapters and core/; workflows/ as types only',
      severity: 'error',
      from: { path: '^activities/' },
      to: { path: SOURCE, pathNot: '^(activities|docker|providers|render|core)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'activities-types-only',
      severity: 'error',
      from: { path: '^activities/' },
      to: { path: '^(client|worker|cli|slack|cluster|scripts)/' },
    },
    {
      name: 'workflows-deterministic',
      comment: 'workflows/ imports values only from core/contract, core/validate and itself; others as types',
      severity: 'error',
      from: { path: '^workflows/' },
      to: {
        path: SOURCE,
        pathNot: '^(workflows/|core/contract\\.ts$|core/validate\\.ts$)',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'workflows-types-only',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^(client|worker|cli|slack|cluster|scripts)/' },
    },
    {
      name: 'client-imports',
      comment: 'client/ may import core/; workflows/ and activities/ as types only',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: SOURCE, pathNot: '^(client|core)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'worker-imports',
      comment: 'worker/ wires activities/ and workflows/ (types) on core/ and docker/',
      severity: 'error',
      from: { path: '^worker/' },
      to: { path: '^(client|cli|slack|cluster|scripts)/' },
    },
    {
      name: 'cluster-imports',
      severity: 'error',
      from: { path: '^cluster/' },
      to: { path: SOURCE, pathNot: '^(cluster|core)/' },
    },
    {
      name: 'nothing-below-imports-a-surface',
      comment: 'only surfaces (and tests, benches, scripts) import cli/ or slack/; cli/ may start the bot',
      severity: 'error',
      from: { path: SOURCE, pathNot: '^(cli|slack|scripts)/' },
      to: { path: '^(cli|slack)/' },
    },
    {
      name: 'slack-does-not-import-cli',
      severity: 'error',
      from: { path: '^slack/' },
      to: { path: '^cli/' },
    },
    {
      name: 'no-circular',
      comment: 'no module cycles in the sources (a cycle through type-only imports costs nothing at run time)',
      severity: 'error',
      from: { path: SOURCE },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|coverage|test-results)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
