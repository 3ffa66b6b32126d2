/**
 * One supervised ffmpeg: `child_process.spawn` with extra pipes (fd 3, 4, ...), stderr to the debug
 * log (the last lines are kept for the exit report), restart with capped exponential backoff when it
 * dies, and a stop that closes its inputs, sends SIGTERM and SIGKILLs after a deadline.
 *
 * Writes never block the caller: `write()` drops the whole chunk list (and says so) when the pipe
 * already holds more than `maxQueuedBytes`, so a stuck ffmpeg costs at most that much memory.
 */
import {type ChildProcess, spawn} from "node:child_process";
import type {Readable, Writable} from "node:stream";
import type {Logger} from "../util/log.js";
import {TypedEmitter} from "../util/typedEmitter.js";

export type ExtraPipe = "write" | "read";

export interface FfmpegProcessOptions {
    readonly ffmpegPath: string;
    /** Arguments of every run (a function is called before each run). */
    readonly args: readonly string[] | (() => readonly string[]);
    /** Pipes after stdin/stdout/stderr: index 0 is fd 3. */
    readonly extraPipes?: readonly ExtraPipe[] | undefined;
    /** Environment of the child; default the parent's. */
    readonly env?: NodeJS.ProcessEnv | undefined;
    /** First restart delay; doubles per failed run. Default 500. */
    readonly restartInitialDelayMs?: number | undefined;
    /** Backoff cap. Default 10 000. */
    readonly restartMaxDelayMs?: number | undefined;
    /** A run that lasted this long resets the backoff. Default 10 000. */
    readonly stableRunMs?: number | undefined;
    /** stop() waits this long after closing ffmpeg's inputs before SIGTERM. Default 500. */
    readonly inputEofGraceMs?: number | undefined;
    /** SIGKILL this long after SIGTERM. Default 2000. */
    readonly killTimeoutMs?: number | undefined;
    /** stderr lines kept for the exit report. Default 20. */
    readonly stderrTailLines?: number | undefined;
}

export interface FfmpegRun {
    /** 1 for the first run, then increasing. */
    readonly index: number;
    readonly pid: number | undefined;
    readonly stdout: Readable;
    /** By fd number; undefined for 0–2 and pipes not asked for. */
    readonly pipes: readonly (Readable | Writable | undefined)[];
}

export interface FfmpegExit {
    readonly run: FfmpegRun;
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly stderrTail: readonly string[];
    /** True when stop() ended it. */
    readonly isExpected: boolean;
    /** Delay before the next run, or undefined when none follows. */
    readonly restartInMs: number | undefined;
}

export interface FfmpegProcessEvents {
    runStarted: FfmpegRun;
    runExited: FfmpegExit;
}

/** A non-zero exit of ffmpeg, with its last stderr lines (house-style §4.5). */
export class FfmpegExitError extends Error {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly stderrTail: readonly string[];

    constructor(exit: Pick<FfmpegExit, "code" | "signal" | "stderrTail">) {
        super(
            `ffmpeg exited with ${exit.signal === null ? `code ${exit.code}` : exit.signal}` +
                (exit.stderrTail.length > 0 ? `: ${exit.stderrTail.slice(-3).join(" | ")}` : ""),
        );
        this.name = "FfmpegExitError";
        this.code = exit.code;
        this.signal = exit.signal;
        this.stderrTail = exit.stderrTail;
    }
}

export interface FfmpegProcessStats {
    runs: number;
    /** Runs that ended without stop(). */
    crashes: number;
    /** write() calls dropped because the pipe was backed up or no run was active. */
    droppedWrites: number;
    droppedBytes: number;
}

interface ActiveRun {
    readonly run: FfmpegRun;
    readonly child: ChildProcess;
    readonly startedAtMs: number;
    readonly stderrTail: string[];
    stderrPartial: string;
    killTimer: NodeJS.Timeout | undefined;
    exited: Promise<void>;
}

export class FfmpegProcess {
    readonly stats: FfmpegProcessStats = {runs: 0, crashes: 0, droppedWrites: 0, droppedBytes: 0};
    readonly #options: FfmpegProcessOptions;
    readonly #log: Logger;
    readonly #events: TypedEmitter<FfmpegProcessEvents>;
    #active: ActiveRun | undefined;
    #isWanted = false;
    #failures = 0;
    #restartTimer: NodeJS.Timeout | undefined;

    constructor(options: FfmpegProcessOptions, log: Logger) {
        this.#options = options;
        this.#log = log;
        this.#events = new TypedEmitter((error, event) => log.error(`${event} listener failed`, {error}));
    }

    on<K extends keyof FfmpegProcessEvents>(event: K, listener: (payload: FfmpegProcessEvents[K]) => void): () => void {
        return this.#events.on(event, listener);
    }

    get isRunning(): boolean {
        return this.#active !== undefined;
    }

    get pid(): number | undefined {
        return this.#active?.run.pid;
    }

    /** Starts the first run; later runs follow crashes until stop(). */
    start(): void {
        if (this.#isWanted) {
            return;
        }
        this.#isWanted = true;
        this.#failures = 0;
        this.#spawn();
    }

    /** Ends the current run (inputs closed, SIGTERM, SIGKILL after killTimeoutMs) and resolves when it is gone. */
    async stop(): Promise<void> {
        this.#isWanted = false;
        clearTimeout(this.#restartTimer);
        this.#restartTimer = undefined;
        const active = this.#active;
        if (active === undefined) {
            return;
        }
        this.#terminate(active);
        await active.exited;
    }

    /** Kills the current run as if it had crashed (tests, bench); a restart follows. */
    kill(signal: NodeJS.Signals = "SIGKILL"): boolean {
        return this.#active?.child.kill(signal) ?? false;
    }

    /**
     * Writes `chunks` to fd `fd` (0 = stdin) as one unit, or drops them all when that pipe already
     * queues more than `maxQueuedBytes` or no run is active. Returns whether they were written.
     */
    write(fd: number, chunks: readonly Buffer[], maxQueuedBytes: number): boolean {
        const stream = this.#writable(fd);
        if (stream === undefined || stream.destroyed || !stream.writable || stream.writableLength > maxQueuedBytes) {
            this.stats.droppedWrites += 1;
            for (const chunk of chunks) {
                this.stats.droppedBytes += chunk.length;
            }
            return false;
        }
        if (chunks.length > 1) {
            stream.cork();
        }
        for (const chunk of chunks) {
            stream.write(chunk);
        }
        if (chunks.length > 1) {
            stream.uncork();
        }
        return true;
    }

    #writable(fd: number): Writable | undefined {
        const active = this.#active;
        if (active === undefined) {
            return undefined;
        }
        if (fd === 0) {
            return active.child.stdin ?? undefined;
        }
        const stream = active.run.pipes[fd];
        return stream !== undefined && "write" in stream ? stream : undefined;
    }

    #spawn(): void {
        const extra = this.#options.extraPipes ?? [];
        const args = typeof this.#options.args === "function" ? this.#options.args() : this.#options.args;
        let child: ChildProcess;
        try {
            child = spawn(this.#options.ffmpegPath, [...args], {
                stdio: ["pipe", "pipe", "pipe", ...extra.map(() => "pipe" as const)],
                ...(this.#options.env === undefined ? {} : {env: this.#options.env}),
                windowsHide: true,
            });
        } catch (error) {
            this.#log.error("ffmpeg could not be spawned", {error, path: this.#options.ffmpegPath});
            this.#scheduleRestart(0);
            return;
        }
        this.stats.runs += 1;
        const pipes: (Readable | Writable | undefined)[] = [];
        child.stdio.forEach((stream, fd) => {
            if (stream === null || stream === undefined) {
                return;
            }
            // EPIPE/ECONNRESET when ffmpeg dies while we write: the 'exit' handler deals with it
            stream.on("error", (error: Error) => this.#log.debug(`ffmpeg fd ${fd}: ${error.message}`));
            if (fd >= 3) {
                pipes[fd] = stream;
            }
        });
        const stdout = child.stdout;
        if (stdout === null) {
            throw new Error("spawn gave no stdout pipe");
        }
        const run: FfmpegRun = {index: this.stats.runs, pid: child.pid, stdout, pipes};
        let resolveExited: () => void = () => undefined;
        const active: ActiveRun = {
            run,
            child,
            startedAtMs: Date.now(),
            stderrTail: [],
            stderrPartial: "",
            killTimer: undefined,
            exited: new Promise<void>((resolve) => {
                resolveExited = resolve;
            }),
        };
        this.#active = active;
        child.stderr?.setEncoding("utf8");
        child.stderr?.on("data", (text: string) => this.#handleStderr(active, text));
        let hasExited = false;
        const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
            if (hasExited) {
                return;
            }
            hasExited = true;
            this.#handleExit(active, code, signal);
            resolveExited();
        };
        child.on("error", (error: Error) => {
            this.#log.warn(`ffmpeg failed: ${error.message}`, {path: this.#options.ffmpegPath});
            if (child.pid === undefined) {
                onExit(null, null);
            }
        });
        child.on("close", onExit);
        this.#log.debug(() => `ffmpeg run ${run.index} started (pid ${String(run.pid)}): ${args.join(" ")}`);
        if (child.pid !== undefined) {
            this.#events.emit("runStarted", run);
        }
    }

    #handleStderr(active: ActiveRun, text: string): void {
        const lines = (active.stderrPartial + text).split(/\r?\n|\r/);
        active.stderrPartial = lines.pop() ?? "";
        if (active.stderrPartial.length > 4096) {
            lines.push(active.stderrPartial);
            active.stderrPartial = "";
        }
        const keep = this.#options.stderrTailLines ?? 20;
        for (const line of lines) {
            if (line.trim() === "") {
                continue;
            }
            this.#log.debug(() => `ffmpeg: ${line}`);
            active.stderrTail.push(line);
            if (active.stderrTail.length > keep) {
                active.stderrTail.shift();
            }
        }
    }

    #handleExit(active: ActiveRun, code: number | null, signal: NodeJS.Signals | null): void {
        clearTimeout(active.killTimer);
        if (active.stderrPartial.trim() !== "") {
            active.stderrTail.push(active.stderrPartial);
        }
        if (this.#active === active) {
            this.#active = undefined;
        }
        const isExpected = !this.#isWanted;
        let restartInMs: number | undefined;
        if (!isExpected) {
            this.stats.crashes += 1;
            const ranMs = Date.now() - active.startedAtMs;
            if (ranMs >= (this.#options.stableRunMs ?? 10_000)) {
                this.#failures = 0;
            }
            restartInMs = this.#backoffMs();
            this.#failures += 1;
            const error = new FfmpegExitError({code, signal, stderrTail: [...active.stderrTail]});
            this.#log.warn(`${error.message}; restarting in ${restartInMs} ms`);
            this.#scheduleRestart(restartInMs);
        } else {
            this.#log.debug(`ffmpeg run ${active.run.index} stopped (${signal ?? `code ${code}`})`);
        }
        this.#events.emit("runExited", {
            run: active.run,
            code,
            signal,
            stderrTail: [...active.stderrTail],
            isExpected,
            restartInMs,
        });
    }

    #backoffMs(): number {
        const initial = this.#options.restartInitialDelayMs ?? 500;
        const max = this.#options.restartMaxDelayMs ?? 10_000;
        return Math.min(max, initial * 2 ** Math.min(this.#failures, 20));
    }

    #scheduleRestart(delayMs: number): void {
        clearTimeout(this.#restartTimer);
        this.#restartTimer = setTimeout(() => {
            this.#restartTimer = undefined;
            if (this.#isWanted && this.#active === undefined) {
                this.#spawn();
            }
        }, delayMs);
    }

    /** Inputs closed (ffmpeg flushes and exits on EOF), then SIGTERM, then SIGKILL. */
    #terminate(active: ActiveRun): void {
        for (const stream of [active.child.stdin, ...active.run.pipes]) {
            if (stream !== undefined && stream !== null && "end" in stream) {
                stream.end();
            }
        }
        clearTimeout(active.killTimer);
        active.killTimer = setTimeout(() => {
            active.child.kill("SIGTERM");
            active.killTimer = setTimeout(() => {
                this.#log.warn(`ffmpeg pid ${String(active.run.pid)} ignored SIGTERM; killing it`);
                active.child.kill("SIGKILL");
            }, this.#options.killTimeoutMs ?? 2000);
        }, this.#options.inputEofGraceMs ?? 500);
    }
}
