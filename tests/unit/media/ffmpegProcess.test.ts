/** FfmpegProcess against tests/support/fakeFfmpeg.mjs: restarts with backoff, stderr capture, stop, backpressure. */
import {chmod} from "node:fs/promises";
import {fileURLToPath} from "node:url";
import {afterEach, beforeAll, describe, expect, it} from "vitest";
import {type FfmpegExit, FfmpegProcess, type FfmpegProcessOptions} from "../../../src/media/ffmpegProcess.js";
import {silentLogger} from "../../../src/util/log.js";

const FAKE_FFMPEG = fileURLToPath(new URL("../../support/fakeFfmpeg.mjs", import.meta.url));

beforeAll(async () => {
    await chmod(FAKE_FFMPEG, 0o755);
});

const processes: FfmpegProcess[] = [];
afterEach(async () => {
    await Promise.all(processes.splice(0).map((process) => process.stop()));
});

function fake(env: Record<string, string>, options: Partial<FfmpegProcessOptions> = {}): FfmpegProcess {
    const process = new FfmpegProcess(
        {
            ffmpegPath: FAKE_FFMPEG,
            args: ["-i", "pipe:0"],
            env: {PATH: globalThis.process.env["PATH"] ?? "", ...env},
            restartInitialDelayMs: 50,
            restartMaxDelayMs: 200,
            stableRunMs: 10_000,
            killTimeoutMs: 300,
            ...options,
        },
        silentLogger,
    );
    processes.push(process);
    return process;
}

function collectExits(process: FfmpegProcess): FfmpegExit[] {
    const exits: FfmpegExit[] = [];
    process.on("runExited", (exit) => exits.push(exit));
    return exits;
}

describe("FfmpegProcess", () => {
    it("restarts a crashing ffmpeg with doubling, capped delays and keeps its stderr", async () => {
        const process = fake({FAKE_FFMPEG_MODE: "crash", FAKE_FFMPEG_EXIT_CODE: "3", FAKE_FFMPEG_DELAY_MS: "10"});
        const exits = collectExits(process);
        process.start();
        await expect.poll(() => exits.length, {timeout: 5000}).toBeGreaterThanOrEqual(4);
        expect(exits.slice(0, 4).map((exit) => exit.restartInMs)).toEqual([50, 100, 200, 200]);
        expect(exits[0]?.code).toBe(3);
        expect(exits[0]?.isExpected).toBe(false);
        expect(exits[0]?.stderrTail.at(-1)).toBe("fake ffmpeg: Conversion failed!");
        expect(process.stats.crashes).toBeGreaterThanOrEqual(4);
    });

    it("stops for good: no restart after stop(), and the exit is marked expected", async () => {
        const process = fake({FAKE_FFMPEG_MODE: "run"});
        const exits = collectExits(process);
        const started = new Promise((resolve) => process.on("runStarted", resolve));
        process.start();
        await started;
        expect(process.isRunning).toBe(true);
        await process.stop();
        expect(process.isRunning).toBe(false);
        expect(exits).toHaveLength(1);
        expect(exits[0]).toMatchObject({isExpected: true, restartInMs: undefined});
        expect(process.stats.runs).toBe(1);
    });

    it("delivers stdin to the child (the fake reports the byte count at EOF)", async () => {
        const process = fake({FAKE_FFMPEG_MODE: "run"});
        const started = new Promise<import("../../../src/media/ffmpegProcess.js").FfmpegRun>((resolve) =>
            process.on("runStarted", resolve),
        );
        process.start();
        const run = await started;
        let stdout = "";
        run.stdout.setEncoding("utf8");
        run.stdout.on("data", (text: string) => {
            stdout += text;
        });
        await expect.poll(() => stdout).toContain("ready");
        expect(process.write(0, [Buffer.alloc(1000), Buffer.alloc(234)], 1 << 20)).toBe(true);
        await process.stop();
        expect(stdout).toContain("stdin-bytes=1234");
    });

    it("drops writes instead of queueing without bound when ffmpeg does not read", async () => {
        const process = fake({FAKE_FFMPEG_MODE: "stall"});
        const started = new Promise((resolve) => process.on("runStarted", resolve));
        process.start();
        await started;
        const frame = Buffer.alloc(64 * 1024);
        let written = 0;
        for (let i = 0; i < 200; i++) {
            if (process.write(0, [frame], 256 * 1024)) {
                written += 1;
            }
        }
        // the pipe buffer (64 KiB) plus our 256 KiB budget: a handful of frames, never all 200
        expect(written).toBeGreaterThan(0);
        expect(written).toBeLessThan(20);
        expect(process.stats.droppedWrites).toBe(200 - written);
    });

    it("SIGKILLs an ffmpeg that ignores SIGTERM", async () => {
        const process = fake({FAKE_FFMPEG_MODE: "stall", FAKE_FFMPEG_IGNORE_TERM: "1"});
        const exits = collectExits(process);
        const started = new Promise((resolve) => process.on("runStarted", resolve));
        process.start();
        await started;
        // give node in the child time to install its SIGTERM handler
        await expect.poll(() => process.pid).toBeTypeOf("number");
        const stopping = process.stop();
        await stopping;
        expect(exits[0]?.signal === "SIGKILL" || exits[0]?.signal === "SIGTERM").toBe(true);
        expect(process.isRunning).toBe(false);
    });

    it("reports a binary that cannot be spawned as a crash and retries", async () => {
        const process = fake({}, {ffmpegPath: "/nonexistent/ffmpeg"});
        const exits = collectExits(process);
        process.start();
        await expect.poll(() => exits.length, {timeout: 3000}).toBeGreaterThanOrEqual(2);
        expect(exits[0]?.isExpected).toBe(false);
        await process.stop();
        const count = exits.length;
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(exits.length).toBe(count);
    });

    it("kill() simulates a crash and the supervisor starts a new run", async () => {
        const process = fake({FAKE_FFMPEG_MODE: "run"});
        const runs: number[] = [];
        process.on("runStarted", (run) => runs.push(run.index));
        process.start();
        await expect.poll(() => runs).toEqual([1]);
        const firstPid = process.pid;
        expect(process.kill()).toBe(true);
        await expect.poll(() => runs, {timeout: 3000}).toEqual([1, 2]);
        expect(process.pid).not.toBe(firstPid);
    });
});
