/**
 * N simulated cameras against one server, and the `v720-bridge simulate` command.
 * Ids are `0800c0` + 6 upper-case hex digits of the camera's index (decisions.md 4), so they are
 * unique per index and stable between runs.
 */
import {parseArgs} from "node:util";
import {type Logger, silentLogger} from "../util/log.js";
import type {FaultCounters, PROBABILITY_FAULTS, SimFaults} from "./faults.js";
import {SimCamera, type SimCameraOptions} from "./simCamera.js";
import {createSyntheticJpegSource} from "./syntheticJpeg.js";

/** Everything a camera takes except its id and server, shared by all cameras of a Simulator. */
export type SimCameraTemplate = Omit<SimCameraOptions, "id" | "serverHost" | "log" | "seed">;

export interface SimulatorOptions extends SimCameraTemplate {
    readonly cameras: number;
    readonly serverHost: string;
    /** Index of the first camera (its id suffix), default 1. */
    readonly firstIndex?: number;
    /** Spread camera start-ups over this many ms, default 0 (all at once). */
    readonly startSpreadMs?: number;
    /** Base seed; camera i uses seed + i. Default: each camera's id. */
    readonly seed?: number;
}

export interface SimulatorStats {
    cameras: number;
    registered: number;
    streaming: number;
    framesSent: number;
    framesSkipped: number;
    fragmentsSent: number;
    audioPacketsSent: number;
    datagramsSent: number;
    bytesSent: number;
    confirmsReceived: number;
    stalls: number;
    disconnects: number;
    badInput: number;
    faults: FaultCounters;
}

/** `0800c0` + the index as 6 upper-case hex digits, e.g. 26 → `0800c000001A`. */
export function simCameraId(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index > 0xff_ffff) {
        throw new RangeError(`camera index must be an integer 0..16777215, got ${index}`);
    }
    return `0800c0${index.toString(16).toUpperCase().padStart(6, "0")}`;
}

export class Simulator {
    readonly cameras: readonly SimCamera[];
    readonly #options: SimulatorOptions;
    readonly #log: Logger;
    readonly #startTimers: NodeJS.Timeout[] = [];

    constructor(options: SimulatorOptions, log: Logger = silentLogger) {
        if (!Number.isInteger(options.cameras) || options.cameras < 1) {
            throw new RangeError(`cameras must be a positive integer, got ${options.cameras}`);
        }
        this.#options = options;
        this.#log = log;
        // One frame source for all cameras: the expensive encode happens once.
        const jpegSource =
            options.jpegSource ??
            createSyntheticJpegSource({
                ...(options.width === undefined ? {} : {width: options.width}),
                ...(options.height === undefined ? {} : {height: options.height}),
                ...(options.quality === undefined ? {} : {quality: options.quality}),
                ...(options.frameBytes === undefined ? {} : {targetBytes: options.frameBytes}),
            });
        const first = options.firstIndex ?? 1;
        const {cameras: count, firstIndex: _first, startSpreadMs: _spread, seed, ...template} = options;
        const cameras: SimCamera[] = [];
        for (let index = 0; index < count; index += 1) {
            cameras.push(
                new SimCamera({
                    ...template,
                    jpegSource,
                    id: simCameraId(first + index),
                    log,
                    ...(seed === undefined ? {} : {seed: (seed + index) >>> 0}),
                }),
            );
        }
        this.cameras = cameras;
    }

    /** Starts every camera (spread over `startSpreadMs`). Progress is visible through `stats()` and camera events. */
    start(): void {
        const spreadMs = this.#options.startSpreadMs ?? 0;
        this.cameras.forEach((camera, index) => {
            const delayMs = spreadMs > 0 ? Math.floor((spreadMs * index) / this.cameras.length) : 0;
            if (delayMs === 0) {
                camera.start();
            } else {
                this.#startTimers.push(setTimeout(() => camera.start(), delayMs));
            }
        });
        this.#log.info(`simulating ${this.cameras.length} camera(s) against ${this.#options.serverHost}`);
    }

    async stop(options: {abrupt?: boolean} = {}): Promise<void> {
        for (const timer of this.#startTimers) {
            clearTimeout(timer);
        }
        await Promise.all(this.cameras.map((camera) => camera.close(options)));
    }

    stats(): SimulatorStats {
        const total: SimulatorStats = {
            cameras: this.cameras.length,
            registered: 0,
            streaming: 0,
            framesSent: 0,
            framesSkipped: 0,
            fragmentsSent: 0,
            audioPacketsSent: 0,
            datagramsSent: 0,
            bytesSent: 0,
            confirmsReceived: 0,
            stalls: 0,
            disconnects: 0,
            badInput: 0,
            faults: {
                lost: 0,
                duplicated: 0,
                reorderedFrames: 0,
                garbageDatagrams: 0,
                udpLengthLies: 0,
                udpBadJson: 0,
                garbageTcp: 0,
                tcpLengthLies: 0,
                invalidJson: 0,
                unknownCodes: 0,
                disconnects: 0,
                lostProbes: 0,
            },
        };
        for (const camera of this.cameras) {
            const stats = camera.stats;
            total.registered += camera.state === "registered" ? 1 : 0;
            total.streaming += camera.isStreaming ? 1 : 0;
            total.framesSent += stats.framesSent;
            total.framesSkipped += stats.framesSkipped;
            total.fragmentsSent += stats.fragmentsSent;
            total.audioPacketsSent += stats.audioPacketsSent;
            total.datagramsSent += stats.datagramsSent;
            total.bytesSent += stats.bytesSent;
            total.confirmsReceived += stats.confirmsReceived;
            total.stalls += stats.stalls;
            total.disconnects += stats.disconnects;
            total.badInput += stats.badInput;
            for (const key of Object.keys(total.faults) as (keyof FaultCounters)[]) {
                total.faults[key] += stats.faults[key];
            }
        }
        return total;
    }
}

// ---- CLI ------------------------------------------------------------------------------------------

export interface SimulateCommandOptions extends SimulatorOptions {
    /** Stop after this many seconds; undefined runs until the abort signal. */
    readonly durationS?: number;
    /** Log aggregate stats this often; default 10 s, 0 disables. */
    readonly statsIntervalMs?: number;
}

export class SimulateUsageError extends Error {
    override readonly name = "SimulateUsageError";
}

export const SIMULATE_USAGE = `Usage: v720-bridge simulate --server HOST [options]

  --cameras N          number of cameras (default 1)
  --server HOST        server address (required)
  --http-port P        bootstrap over HTTP getA9ConfCheck on this port (as real cameras do)
  --tcp-port P         connect TCP directly to this port (when no --http-port)
  --udp-port P         server UDP port for code 20 (default: the TCP port)
  --mqtt-port P        accepted for compatibility; the simulator does not speak MQTT yet
  --fps N              frames per second while streaming (default 10)
  --frame-bytes N      JPEG size in bytes (e.g. 25000 = 26 fragments; default ~24 KB natural)
  --width N --height N --quality N   synthetic JPEG geometry and quality (640x480, 75)
  --audio / --no-audio G.711 audio when the server asks for it (default on)
  --audio-packet-bytes N             A-law bytes per audio packet (default 160 = 20 ms)
  --heartbeat-ms N     heartbeat interval (default 5000)
  --stall-ms N         stall after this long without 605 confirms (default 4000, 0 = never)
  --first-index N      id suffix of the first camera (default 1: 0800c0000001)
  --spread-ms N        spread start-ups over N ms (default 0)
  --duration S         stop after S seconds (default: run until interrupted)
  --seed N             base seed for random fields and faults
  --loss P --duplicate P --reorder P --garbage P --udp-length-lie P --udp-bad-json P
  --garbage-tcp P --tcp-length-lie P --invalid-json P --unknown-code P --disconnect P
                       fault probabilities (per datagram / frame / heartbeat, see src/simulator/README.md)
  --never-login        connect but never register
`;

const FAULT_FLAGS: Record<(typeof PROBABILITY_FAULTS)[number], string> = {
    fragmentLoss: "loss",
    duplicate: "duplicate",
    reorder: "reorder",
    garbageDatagram: "garbage",
    udpLengthLie: "udp-length-lie",
    udpBadJson: "udp-bad-json",
    garbageTcp: "garbage-tcp",
    tcpLengthLie: "tcp-length-lie",
    invalidJson: "invalid-json",
    unknownCode: "unknown-code",
    disconnect: "disconnect",
};

/** Parses `simulate` arguments (after the command word). Throws SimulateUsageError with a readable message. */
export function parseSimulateArgs(argv: readonly string[]): SimulateCommandOptions {
    const numeric = [
        "cameras",
        "http-port",
        "tcp-port",
        "udp-port",
        "mqtt-port",
        "fps",
        "frame-bytes",
        "width",
        "height",
        "quality",
        "audio-packet-bytes",
        "heartbeat-ms",
        "stall-ms",
        "first-index",
        "spread-ms",
        "duration",
        "seed",
        ...Object.values(FAULT_FLAGS),
    ];
    let parsed: ReturnType<typeof parseArgs>;
    try {
        parsed = parseArgs({
            args: [...argv],
            strict: true,
            allowPositionals: false,
            options: {
                server: {type: "string"},
                audio: {type: "boolean"},
                "no-audio": {type: "boolean"},
                "never-login": {type: "boolean"},
                ...Object.fromEntries(numeric.map((name) => [name, {type: "string" as const}])),
            },
        });
    } catch (error) {
        throw new SimulateUsageError(error instanceof Error ? error.message : String(error), {cause: error});
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    const number = (name: string, check: (value: number) => boolean, what: string): number | undefined => {
        const raw = values[name];
        if (raw === undefined || typeof raw === "boolean") {
            return undefined;
        }
        const value = Number(raw);
        if (raw.trim() === "" || !Number.isFinite(value) || !check(value)) {
            throw new SimulateUsageError(`--${name} must be ${what}, got ${JSON.stringify(raw)}`);
        }
        return value;
    };
    const port = (name: string): number | undefined =>
        number(name, (value) => Number.isInteger(value) && value > 0 && value < 65_536, "a port number 1..65535");
    const positiveInt = (name: string): number | undefined =>
        number(name, (value) => Number.isInteger(value) && value > 0, "a positive integer");
    const nonNegativeInt = (name: string): number | undefined =>
        number(name, (value) => Number.isInteger(value) && value >= 0, "a non-negative integer");
    const server = values["server"];
    if (typeof server !== "string" || server.length === 0) {
        throw new SimulateUsageError("--server HOST is required");
    }
    const httpPort = port("http-port");
    const tcpPort = port("tcp-port");
    if (httpPort === undefined && tcpPort === undefined) {
        throw new SimulateUsageError("give --http-port (bootstrap like a real camera) or --tcp-port");
    }
    const faults: Record<string, number | boolean> = {};
    for (const [key, flag] of Object.entries(FAULT_FLAGS)) {
        const value = number(flag, (probability) => probability >= 0 && probability <= 1, "a probability 0..1");
        if (value !== undefined) {
            faults[key] = value;
        }
    }
    if (values["never-login"] === true) {
        faults["neverLogin"] = true;
    }
    const seed = nonNegativeInt("seed");
    if (seed !== undefined) {
        faults["seed"] = seed;
    }
    const optional = <T>(key: string, value: T | undefined): Record<string, T> =>
        value === undefined ? {} : {[key]: value};
    return {
        cameras: positiveInt("cameras") ?? 1,
        serverHost: server,
        audio: values["no-audio"] !== true,
        ...optional("httpPort", httpPort),
        ...optional("tcpPort", tcpPort),
        ...optional("udpPort", port("udp-port")),
        ...optional(
            "fps",
            number("fps", (value) => value > 0 && value <= 100, "a number in (0, 100]"),
        ),
        ...optional("frameBytes", positiveInt("frame-bytes")),
        ...optional("width", positiveInt("width")),
        ...optional("height", positiveInt("height")),
        ...optional(
            "quality",
            number("quality", (value) => Number.isInteger(value) && value >= 1 && value <= 100, "1..100"),
        ),
        ...optional("audioPacketBytes", positiveInt("audio-packet-bytes")),
        ...optional("heartbeatIntervalMs", positiveInt("heartbeat-ms")),
        ...optional("stallAfterMs", nonNegativeInt("stall-ms")),
        ...optional("firstIndex", nonNegativeInt("first-index")),
        ...optional("startSpreadMs", nonNegativeInt("spread-ms")),
        ...optional(
            "durationS",
            number("duration", (value) => value > 0, "a positive number of seconds"),
        ),
        ...optional("seed", seed),
        ...(Object.keys(faults).length > 0 ? {faults: faults as SimFaults} : {}),
    };
}

/**
 * Runs the simulator until `signal` aborts or `durationS` passes, logging aggregate stats, then stops
 * every camera. Returns the final stats.
 */
export async function runSimulate(
    options: SimulateCommandOptions,
    log: Logger,
    signal?: AbortSignal,
): Promise<SimulatorStats> {
    const {durationS, statsIntervalMs, ...simulatorOptions} = options;
    const simulator = new Simulator(simulatorOptions, log.child("sim"));
    simulator.start();
    const statsTimer =
        (statsIntervalMs ?? 10_000) > 0
            ? setInterval(() => log.info("simulator stats", {...simulator.stats()}), statsIntervalMs ?? 10_000)
            : undefined;
    await new Promise<void>((resolve) => {
        const timer = durationS === undefined ? undefined : setTimeout(resolve, durationS * 1000);
        if (signal?.aborted === true) {
            resolve();
            return;
        }
        signal?.addEventListener(
            "abort",
            () => {
                clearTimeout(timer);
                resolve();
            },
            {once: true},
        );
    });
    clearInterval(statsTimer);
    await simulator.stop();
    const stats = simulator.stats();
    log.info("simulator stopped", {...stats});
    return stats;
}

/** `v720-bridge simulate …`: parse, run until `signal`, stop. Throws SimulateUsageError on bad arguments. */
export function runSimulateCommand(
    argv: readonly string[],
    log: Logger,
    signal?: AbortSignal,
): Promise<SimulatorStats> {
    return runSimulate(parseSimulateArgs(argv), log, signal);
}
