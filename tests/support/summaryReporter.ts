/**
 * Prints one plain closing line, `Tests: N passed, N failed, N skipped`, after Vitest's own summary,
 * so that tools reading only the last lines of a run see the counts in a common format.
 */
import type {Reporter, TestModule} from "vitest/node";

export class SummaryReporter implements Reporter {
    onTestRunEnd(testModules: readonly TestModule[]): void {
        let passed = 0;
        let failed = 0;
        let skipped = 0;
        for (const module of testModules) {
            if (module.state() === "failed" && [...module.children.allTests()].length === 0) {
                failed += 1; // a file that failed to load counts as one failure
            }
            for (const test of module.children.allTests()) {
                const state = test.result().state;
                if (state === "passed") {
                    passed += 1;
                } else if (state === "failed") {
                    failed += 1;
                } else {
                    skipped += 1;
                }
            }
        }
        process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    }
}
