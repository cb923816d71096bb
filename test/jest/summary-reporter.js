/**
 * The closing line CI reads: `N passed, M failed`, computed from jest's own aggregated result.
 * A test file that cannot even load (a syntax error, a failing beforeAll) counts as a failure, and
 * so does a run jest fails after the tests (coverage under the floor, a setup or teardown error),
 * so the line never says "0 failed" on a red run. Printed when the process exits: after jest's own
 * summary and the coverage table (reporters jest adds after ours), and with the exit code known.
 */
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failures = [];
    for (const file of results.testResults) {
      const where = file.testFilePath.replace(`${process.cwd()}/`, '');
      if (file.testExecError && file.numFailingTests === 0) {
        failures.push(`${where}: ${file.testExecError.message.split('\n')[0]}`);
      }
      for (const test of file.testResults) if (test.status === 'failed') failures.push(`${where}: ${test.fullName}`);
    }
    process.once('exit', (code) => {
      if (code !== 0 && failures.length === 0) {
        const why = 'coverage under the floor or a setup error (see above)';
        failures.push(`jest exited with code ${code} after the tests: ${why}`);
      }
      const list = failures.length > 0 ? `\nfailed:\n${failures.map((f) => `  ${f}`).join('\n')}\n` : '';
      process.stderr.write(`${list}\n${results.numPassedTests} passed, ${failures.length} failed\n`);
    });
  }
}
