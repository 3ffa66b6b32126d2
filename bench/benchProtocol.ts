/** IPC messages between the bench process (bench/streaming.ts) and the server child (bench/benchServer.ts). */
import zlib from "node:zlib";
import type {CameraStats} from "../src/camera/cameraCounters.js";

export interface ServerPorts {
    readonly cloudHttp: number;
    readonly tcp: number;
    readonly udp: number;
    readonly http: number;
}

/** Child → parent, once the real app listens. */
export interface ReadyMessage {
    readonly type: "ready";
    readonly ports: ServerPorts;
    /** RSS right after start-up, before any camera. */
    readonly rssBytes: number;
}

/** Child → parent, when start-up failed (the child exits 1 after sending it). */
export interface FailedMessage {
    readonly type: "failed";
    readonly error: string;
}

/** Child → parent, the answer to a stats request. */
export interface StatsMessage {
    readonly type: "stats";
    readonly requestId: number;
    /** process.cpuUsage() in µs. */
    readonly cpuUserUs: number;
    readonly cpuSystemUs: number;
    readonly rssBytes: number;
    readonly heapUsedBytes: number;
    /** memoryUsage().heapTotal: the V8 heap reserved (young generation semi-spaces included). */
    readonly heapTotalBytes: number;
    /** memoryUsage().arrayBuffers: Buffers (frames, socket chunks) outside the JS heap. */
    readonly arrayBuffersBytes: number;
    /** process.resourceUsage().maxRSS, converted to bytes. */
    readonly maxRssBytes: number;
    /** The server's event-loop delay beyond the sampling interval since the last reset, ms. */
    readonly loopLagP99Ms: number;
    readonly loopLagMaxMs: number;
    readonly camera: CameraStats;
    /** Cameras with a live TCP session and streaming cameras, from registry.list(). */
    readonly online: number;
    readonly streaming: number;
}

/** When the server assembled one frame: `atMs` = receivedAtHr + monotonicOffsetMs() (comparable across processes). */
export interface FrameTrace {
    readonly cameraId: string;
    readonly counter: number;
    readonly atMs: number;
}

/** Child → parent, the answer to a window request. */
export interface WindowMessage {
    readonly type: "window";
    readonly requestId: number;
    /** On `open: false`: every frame assembled while the window was open. */
    readonly frames: readonly FrameTrace[];
    /** On `open: false` with a profile: the .cpuprofile written. */
    readonly profilePath?: string;
}

export type ChildMessage = ReadyMessage | FailedMessage | StatsMessage | WindowMessage;

/**
 * Parent → child.
 * - `stats`: answer with a StatsMessage; `resetLoopLag` starts a new event-loop delay measurement after it.
 * - `window` open: start tracing assembled frames and, with `profileDir`, the V8 CPU profiler;
 *   closed: stop both and answer with the traces (and the profile path).
 * - `stop`: stop the app and exit 0.
 */
export type ParentMessage =
    | {readonly type: "stats"; readonly requestId: number; readonly resetLoopLag?: boolean}
    | {readonly type: "window"; readonly requestId: number; readonly open: boolean; readonly profileDir?: string}
    | {readonly type: "stop"};

// ---- bench/viewerWorker.ts ↔ bench/streaming.ts --------------------------------------------------------

/** workerData of the viewer worker. */
export interface ViewerWorkerData {
    readonly httpPort: number;
    /** One MJPEG viewer per id, in this order (deliveries name cameras by index in this list). */
    readonly cameraIds: readonly string[];
}

/**
 * Main → viewer worker.
 * - `open`: open every viewer (batches of 10), answer `opened`.
 * - `collect`: answer with the deliveries since the previous collect, and the running totals.
 * - `close`: close every viewer and let the worker exit.
 */
export type ViewerRequest =
    | {readonly type: "open"; readonly requestId: number}
    | {readonly type: "collect"; readonly requestId: number}
    | {readonly type: "close"};

export interface ViewerOpenedMessage {
    readonly type: "opened";
    readonly requestId: number;
    readonly error?: string;
}

/** Deliveries since the previous collect (parallel arrays), then totals since the worker started. */
export interface ViewerCollectMessage {
    readonly type: "collect";
    readonly requestId: number;
    readonly cameraIndexes: Int32Array;
    readonly counters: Float64Array;
    /** performance.now() + monotonicOffsetMs() when the part's last byte arrived. */
    readonly receivedAtMs: Float64Array;
    /** frameChecksum() of each part and its length, compared with the frame the camera sent. */
    readonly checksums: Uint32Array;
    readonly lengths: Int32Array;
    /** Parts received per viewer since the start. */
    readonly delivered: Int32Array;
    readonly corrupt: number;
    readonly corruptSamples: readonly string[];
    readonly outOfOrder: number;
    readonly viewerErrors: number;
}

export type ViewerMessage = ViewerOpenedMessage | ViewerCollectMessage;

// ---- bench/simWorker.ts ↔ bench/streaming.ts -----------------------------------------------------------

/** workerData of a simulator worker: cameras firstIndex .. firstIndex + cameras - 1 of the step. */
export interface SimWorkerData {
    readonly cameras: number;
    /** Id index of the first camera (src/simulator/simulator.ts simCameraId) and its index in the step. */
    readonly firstIndex: number;
    readonly firstCameraIndex: number;
    readonly serverHost: string;
    readonly httpPort: number;
    readonly fps: number;
    readonly frameBytes: number;
    readonly audio: boolean;
    readonly startSpreadMs: number;
}

/**
 * Main → simulator worker.
 * - `start`: start the cameras.
 * - `stats`: answer with SimStatsMessage; `resetLoopLag` starts a new event-loop delay measurement after it.
 * - `stop`: stop the cameras (abruptly), answer `stopped`, and let the worker exit.
 */
export type SimRequest =
    | {readonly type: "start"}
    | {readonly type: "stats"; readonly requestId: number; readonly resetLoopLag?: boolean}
    | {readonly type: "stop"; readonly requestId: number};

/** Frames sent since the previous message (parallel arrays), every SIM_SENT_FLUSH_MS. */
export interface SimSentMessage {
    readonly type: "sent";
    /** The camera's index in the step (firstCameraIndex + its index in the worker). */
    readonly cameraIndexes: Int32Array;
    readonly counters: Float64Array;
    /** performance.now() + monotonicOffsetMs() right after the frame's last fragment left. */
    readonly sentAtMs: Float64Array;
    /** FrameSentEvent.lateMs: how far behind its camera's frame grid the frame left. */
    readonly lateMs: Float64Array;
    /** frameChecksum() of each JPEG as sent, and its length. */
    readonly checksums: Uint32Array;
    readonly lengths: Int32Array;
    readonly fragments: number;
}

export interface SimStatsMessage {
    readonly type: "stats";
    readonly requestId: number;
    /** src/simulator/simulator.ts SimulatorStats (plain numbers, structured-cloned). */
    readonly stats: import("../src/simulator/simulator.js").SimulatorStats;
    /** This worker's event-loop delay beyond the sampling interval since the last reset, ms. */
    readonly loopLagP99Ms: number;
}

export interface SimStoppedMessage {
    readonly type: "stopped";
    readonly requestId: number;
}

export type SimMessage = SimSentMessage | SimStatsMessage | SimStoppedMessage;

/** How often a simulator worker reports the frames it sent. */
export const SIM_SENT_FLUSH_MS = 200;

/**
 * CRC-32 of a frame: the simulator worker sums every frame it sends, the viewer worker every part it
 * receives, and the main thread compares them with the lengths (a corrupt or mixed-up frame differs
 * with probability 1 − 2⁻³²). Re-rendering each expected frame in the viewer cost ~0.1 ms a part, 15 % of
 * a core at 150 cameras on the thread that time-stamps deliveries; zlib's CRC-32 takes ~5 µs (Node ≥
 * 20.15; older versions use the table below, ~10× slower, still well under a render).
 */
export function frameChecksum(data: Uint8Array): number {
    return nativeCrc32 === undefined ? tableCrc32(data) : nativeCrc32(data);
}

const nativeCrc32 = (zlib as {crc32?: (data: Uint8Array) => number}).crc32;
let crcTable: Uint32Array | undefined;

/** The CRC-32 of zlib (polynomial 0xEDB88320), in plain JS for Node versions without zlib.crc32. */
export function tableCrc32(data: Uint8Array): number {
    if (crcTable === undefined) {
        crcTable = new Uint32Array(256);
        for (let index = 0; index < 256; index += 1) {
            let value = index;
            for (let bit = 0; bit < 8; bit += 1) {
                value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
            }
            crcTable[index] = value >>> 0;
        }
    }
    let crc = 0xffffffff;
    for (const byte of data) {
        crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
    }
    return (crc ^ 0xffffffff) >>> 0;
}

/**
 * What turns this thread's performance.now() into CLOCK_MONOTONIC milliseconds (process.hrtime):
 * the one clock every thread and process of the bench shares exactly. performance.timeOrigin is not
 * good enough for sub-millisecond splits: each process and thread derives it from two clock reads
 * at its own start-up, and two of them disagreed by ~4 ms in a loaded run. Best of a few samples.
 */
export function monotonicOffsetMs(): number {
    let narrowest = Number.POSITIVE_INFINITY;
    let offset = 0;
    for (let sample = 0; sample < 8; sample += 1) {
        const before = performance.now();
        const monotonicMs = Number(process.hrtime.bigint()) / 1e6;
        const after = performance.now();
        if (after - before < narrowest) {
            narrowest = after - before;
            offset = monotonicMs - (before + after) / 2;
        }
    }
    return offset;
}
