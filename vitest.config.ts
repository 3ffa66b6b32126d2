import {defineConfig} from "vitest/config";
import {SummaryReporter} from "./tests/support/summaryReporter.js";

export default defineConfig({
    test: {
        include: ["tests/**/*.test.ts"],
        restoreMocks: true,
        testTimeout: 20_000,
        hookTimeout: 20_000,
        reporters: ["default", new SummaryReporter()],
        coverage: {
            provider: "v8",
            include: ["src/**"],
            thresholds: {"src/protocol/**": {lines: 100, branches: 100}, lines: 85},
        },
    },
});
