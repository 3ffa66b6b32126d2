/** The server child process of the bench: start, ask for stats over IPC, stop (see bench/benchServer.ts). */
import {type ChildProcess, fork} from "node:child_process";
import type {ChildMessage, ParentMessage, ServerPorts, StatsMessage, WindowMessage} from "./benchProtocol.js";

export interface ServerChildOptions {
    /** Script to run: the transpiled entry (plain node) or bench/benchServer.ts (with `useTsx`). */
    readonly entry: string;
    readonly useTsx: boolean;
    /** Extra node flags for the child, e.g. --max-semi-space-size=2. */
    readonly nodeArgs?: readonly string[];
    readonly cwd: string;
    /** `cloud.*` keys (YAML names) set on the server's config, e.g. {udp_worker: false}. */
    readonly cloud?: Readonly<Record<string, unknown>> | undefined;
    readonly startTimeoutMs?: number;
}

interface ChildLog {
    lines: number;
    readonly first: string[];
}

/** Lines of the child's stderr kept for the report. */
const KEPT_LOG_LINES = 5;

export class ServerChild {
    readonly ports: ServerPorts;
    readonly startRssBytes: number;
    readonly pid: number;
    readonly #log: ChildLog;
    readonly #child: ChildProcess;
    readonly #pending = new Map<number, (reply: StatsMessage | WindowMessage) => void>();
    readonly #exited: Promise<number | null>;
    #nextRequestId = 1;

    private constructor(
        child: ChildProcess,
        ready: {ports: ServerPorts; rssBytes: number},
        exited: Promise<number | null>,
        log: ChildLog,
    ) {
        this.#child = child;
        this.#log = log;
        this.ports = ready.ports;
        this.startRssBytes = ready.rssBytes;
        this.pid = child.pid ?? -1;
        this.#exited = exited;
        child.on("message", (message: ChildMessage) => {
            if (message.type === "stats" || message.type === "window") {
                const resolve = this.#pending.get(message.requestId);
                this.#pending.delete(message.requestId);
                resolve?.(message);
            }
        });
    }

    static start(options: ServerChildOptions): Promise<ServerChild> {
        const execArgv = [...(options.useTsx ? ["--import", "tsx"] : []), ...(options.nodeArgs ?? [])];
        const args = [JSON.stringify(options.cloud ?? {})];
        // execArgv is explicit: the bench itself runs under tsx and must not hand its loader to the child.
        const child = fork(options.entry, args, {
            cwd: options.cwd,
            execArgv,
            stdio: ["ignore", "inherit", "pipe", "ipc"],
        });
        const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
        const log: ChildLog = {lines: 0, first: []};
        let partial = "";
        child.stderr?.setEncoding("utf8");
        child.stderr?.on("data", (text: string) => {
            const lines = (partial + text).split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
                log.lines += 1;
                if (log.first.length < KEPT_LOG_LINES) {
                    log.first.push(line);
                }
            }
        });
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                child.kill("SIGKILL");
                reject(new Error("the server child did not report ready in time"));
            }, options.startTimeoutMs ?? 30_000);
            child.on("error", (error) => {
                clearTimeout(timer);
                reject(error);
            });
            const onMessage = (message: ChildMessage): void => {
                if (message.type === "ready") {
                    clearTimeout(timer);
                    child.off("message", onMessage);
                    resolve(new ServerChild(child, message, exited, log));
                } else if (message.type === "failed") {
                    clearTimeout(timer);
                    reject(new Error(`the server child failed to start: ${message.error}`));
                }
            };
            child.on("message", onMessage);
            exited
                .then((code) => {
                    clearTimeout(timer);
                    reject(new Error(`the server child exited (code ${code}) before it was ready`));
                })
                .catch(() => undefined);
        });
    }

    /** Lines the server logged on stderr (level warn and above). */
    get logLines(): number {
        return this.#log.lines;
    }

    /** The first few of them. */
    get firstLogLines(): readonly string[] {
        return this.#log.first;
    }

    /** The child's CPU, memory and counters; `resetLoopLag` starts a new event-loop delay measurement. */
    async stats(resetLoopLag = false): Promise<StatsMessage> {
        const reply = await this.#request((requestId) => ({type: "stats", requestId, resetLoopLag}), 5000);
        if (reply.type !== "stats") {
            throw new Error(`expected a stats reply, got ${reply.type}`);
        }
        return reply;
    }

    /** Opens the measurement window: frame tracing and, with `profileDir`, the CPU profiler. */
    async openWindow(profileDir: string | undefined): Promise<void> {
        await this.#request(
            (requestId) => ({type: "window", requestId, open: true, ...(profileDir === undefined ? {} : {profileDir})}),
            5000,
        );
    }

    /** Closes it: the frames the server assembled meanwhile, and the profile written if one ran. */
    async closeWindow(): Promise<WindowMessage> {
        const reply = await this.#request((requestId) => ({type: "window", requestId, open: false}), 30_000);
        if (reply.type !== "window") {
            throw new Error(`expected a window reply, got ${reply.type}`);
        }
        return reply;
    }

    #request(build: (requestId: number) => ParentMessage, timeoutMs: number): Promise<StatsMessage | WindowMessage> {
        const requestId = this.#nextRequestId++;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.#pending.delete(requestId);
                reject(new Error("the server child did not answer a request in time"));
            }, timeoutMs);
            this.#pending.set(requestId, (reply) => {
                clearTimeout(timer);
                resolve(reply);
            });
            this.#send(build(requestId));
        });
    }

    /** Asks the child to stop the app and exit; kills it (by its own handle) if it has not exited in time. */
    async stop(timeoutMs = 10_000): Promise<number | null> {
        this.#send({type: "stop"});
        const timer = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
        const code = await this.#exited;
        clearTimeout(timer);
        return code;
    }

    #send(message: ParentMessage): void {
        if (this.#child.connected) {
            this.#child.send(message);
        }
    }
}
