/**
 * The server side of `npm run bench`: the real `startApp` in its own process, on 127.0.0.1 ephemeral
 * ports, MQTT and RTSP off, log level warn (to stderr). Started by bench/streaming.ts with an IPC
 * channel (messages in bench/benchProtocol.ts): it reports its ports; answers stats requests with
 * its own CPU time, memory, event-loop delay and camera counters; during the measurement window it
 * notes when each frame was assembled (for the latency split) and can run the V8 CPU profiler; on
 * `stop` it stops the app and exits 0.
 *
 * Argument: the UDP receive buffer in bytes (optional; the config default otherwise).
 */
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {Session} from "node:inspector/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {monitorEventLoopDelay} from "node:perf_hooks";
import {type RunningApp, startApp} from "../src/app/app.js";
import {GcTuner} from "../src/app/runtimeTuning.js";
import {parseConfig} from "../src/config/schema.js";
import {readSimFrameInfo} from "../src/simulator/syntheticJpeg.js";
import {createLogger} from "../src/util/log.js";
import {type ChildMessage, type FrameTrace, monotonicOffsetMs, type ParentMessage} from "./benchProtocol.js";

const LOOP_DELAY_RESOLUTION_MS = 10;

function send(message: ChildMessage, then?: () => void): void {
    process.send?.(message, undefined, undefined, () => then?.());
}

class BenchServer {
    readonly #app: RunningApp;
    readonly #loopDelay = monitorEventLoopDelay({resolution: LOOP_DELAY_RESOLUTION_MS});
    #frames: FrameTrace[] = [];
    #stopTrace: (() => void) | undefined;
    #profiler: {session: Session; dir: string} | undefined;

    constructor(app: RunningApp) {
        this.#app = app;
        this.#loopDelay.enable();
    }

    stats(requestId: number, resetLoopLag: boolean): void {
        const cpu = process.cpuUsage();
        const memory = process.memoryUsage();
        let online = 0;
        let streaming = 0;
        for (const view of this.#app.cameras.registry.list()) {
            online += view.online ? 1 : 0;
            streaming += view.streamState === "streaming" ? 1 : 0;
        }
        const lag = (nanoseconds: number): number => Math.max(0, nanoseconds / 1e6 - LOOP_DELAY_RESOLUTION_MS);
        send({
            type: "stats",
            requestId,
            cpuUserUs: cpu.user,
            cpuSystemUs: cpu.system,
            rssBytes: memory.rss,
            heapUsedBytes: memory.heapUsed,
            heapTotalBytes: memory.heapTotal,
            arrayBuffersBytes: memory.arrayBuffers,
            maxRssBytes: process.resourceUsage().maxRSS * 1024,
            loopLagP99Ms: lag(this.#loopDelay.percentile(99)),
            loopLagMaxMs: lag(this.#loopDelay.max),
            camera: this.#app.cameras.registry.stats(),
            online,
            streaming,
        });
        if (resetLoopLag) {
            this.#loopDelay.reset();
        }
    }

    async openWindow(requestId: number, profileDir: string | undefined): Promise<void> {
        this.#frames = [];
        const frames = this.#frames;
        const origin = monotonicOffsetMs();
        this.#stopTrace = this.#app.cameras.registry.on("frame", (frame) => {
            const info = readSimFrameInfo(frame.data);
            if (info !== undefined) {
                frames.push({cameraId: frame.cameraId, counter: info.counter, atMs: origin + frame.receivedAtHr});
            }
        });
        if (profileDir !== undefined) {
            const session = new Session();
            session.connect();
            await session.post("Profiler.enable");
            await session.post("Profiler.start");
            this.#profiler = {session, dir: profileDir};
        }
        send({type: "window", requestId, frames: []});
    }

    async closeWindow(requestId: number): Promise<void> {
        this.#stopTrace?.();
        this.#stopTrace = undefined;
        const frames = this.#frames;
        this.#frames = [];
        let profilePath: string | undefined;
        const profiler = this.#profiler;
        this.#profiler = undefined;
        if (profiler !== undefined) {
            const {profile} = await profiler.session.post("Profiler.stop");
            profiler.session.disconnect();
            profilePath = join(profiler.dir, `server-${process.pid}.cpuprofile`);
            await writeFile(profilePath, JSON.stringify(profile));
        }
        send({type: "window", requestId, frames, ...(profilePath === undefined ? {} : {profilePath})});
    }
}

async function main(): Promise<void> {
    if (process.send === undefined) {
        throw new Error("bench/benchServer must be started by bench/streaming.ts (it needs an IPC channel)");
    }
    const cloudOverrides = JSON.parse(process.argv[2] ?? "{}") as Record<string, unknown>;
    const dataDir = await mkdtemp(join(tmpdir(), "v720-bench-"));
    const config = parseConfig(
        {
            data_dir: dataDir,
            advertise_host: "127.0.0.1",
            cloud: {
                host: "127.0.0.1",
                http_port: 0,
                tcp_port: 0,
                ...cloudOverrides,
            },
            http: {host: "127.0.0.1", port: 0},
            log: {level: "warn"},
            mqtt: {enabled: false},
            rtsp: {enabled: false},
        },
        "bench",
    );
    const log = createLogger(config.log);
    const app = await startApp(config, log);
    new GcTuner(config.cloud.lowLatencyGc, log.child("gc")).follow(app.cameras.registry); // as `serve` does
    const server = new BenchServer(app);
    let stopping = false;
    const stop = (): void => {
        if (stopping) {
            return;
        }
        stopping = true;
        app.stop()
            .then(() => rm(dataDir, {recursive: true, force: true}))
            .then(
                () => process.exit(0),
                (error: unknown) => {
                    process.stderr.write(`bench server: stop failed: ${String(error)}\n`);
                    process.exit(1);
                },
            );
    };
    const failed = (error: unknown): void => {
        process.stderr.write(`bench server: ${error instanceof Error ? error.message : String(error)}\n`);
    };
    process.on("message", (message: ParentMessage) => {
        switch (message.type) {
            case "stats":
                server.stats(message.requestId, message.resetLoopLag === true);
                return;
            case "window":
                (message.open
                    ? server.openWindow(message.requestId, message.profileDir)
                    : server.closeWindow(message.requestId)
                ).catch(failed);
                return;
            case "stop":
                stop();
                return;
        }
    });
    process.on("disconnect", stop); // the bench process went away
    send({type: "ready", ports: app.ports, rssBytes: process.memoryUsage().rss});
}

main().catch((error: unknown) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`bench server: ${text}\n`);
    send({type: "failed", error: text}, () => process.exit(1));
});
