/**
 * The bench's MJPEG viewers, in their own worker thread (bench/streaming.ts starts it from the
 * transpiled copy, see childBuild.ts). The simulated cameras keep the bench's main thread busy in
 * bursts (26 sends per frame); with the viewers on that same event loop, a part that arrived during
 * a burst was time-stamped only after it, and the bench's own lag was charged to the server. Here
 * a part is stamped as soon as it is complete, on an event loop that does nothing else.
 *
 * Every part is checked: it must be a simulator frame of this viewer's camera and its counter must be
 * above the previous one. Deliveries are kept as (camera, counter, absolute time, CRC-32, length)
 * until the main thread collects them and compares each with the frame the camera reported sending
 * (benchProtocol.ts frameChecksum: byte identity without re-rendering every frame here). Times are
 * CLOCK_MONOTONIC (benchProtocol.ts monotonicOffsetMs), the clock every process and thread of the
 * bench shares.
 */
import {parentPort, workerData} from "node:worker_threads";
import {readSimFrameInfo} from "../src/simulator/syntheticJpeg.js";
import {type MjpegClient, type MjpegPart, openMjpeg} from "../tests/support/mjpegClient.js";
import {
    frameChecksum,
    monotonicOffsetMs,
    type ViewerCollectMessage,
    type ViewerRequest,
    type ViewerWorkerData,
} from "./benchProtocol.js";

const data = workerData as ViewerWorkerData;
const port = parentPort;
if (port === null) {
    throw new Error("viewerWorker.ts runs as a worker thread");
}
const clockOffsetMs = monotonicOffsetMs();

class Viewer {
    readonly index: number;
    readonly cameraId: string;
    client: MjpegClient | undefined;
    delivered = 0;
    lastCounter = 0;

    constructor(index: number, cameraId: string) {
        this.index = index;
        this.cameraId = cameraId;
    }
}

const viewers = data.cameraIds.map((id, index) => new Viewer(index, id));
let cameraIndexes: number[] = [];
let counters: number[] = [];
let receivedAtMs: number[] = [];
let checksums: number[] = [];
let lengths: number[] = [];
let corrupt = 0;
let outOfOrder = 0;
const corruptSamples: string[] = [];

function onPart(viewer: Viewer, part: MjpegPart): void {
    const atMs = clockOffsetMs + part.receivedAtHr;
    viewer.delivered += 1;
    const info = readSimFrameInfo(part.data);
    if (info === undefined || info.cameraId !== viewer.cameraId) {
        recordCorrupt(
            `${viewer.cameraId}: part of ${part.data.length} bytes is not a frame of this camera (${info?.cameraId ?? "no counter"})`,
        );
        return;
    }
    if (info.counter <= viewer.lastCounter) {
        outOfOrder += 1;
    } else {
        viewer.lastCounter = info.counter;
    }
    cameraIndexes.push(viewer.index);
    counters.push(info.counter);
    receivedAtMs.push(atMs);
    checksums.push(frameChecksum(part.data));
    lengths.push(part.data.length);
}

function recordCorrupt(description: string): void {
    corrupt += 1;
    if (corruptSamples.length < 3) {
        corruptSamples.push(description);
    }
}

async function openAll(): Promise<void> {
    for (let index = 0; index < viewers.length; index += 10) {
        await Promise.all(
            viewers.slice(index, index + 10).map(async (viewer) => {
                const url = `http://127.0.0.1:${data.httpPort}/api/cameras/${viewer.cameraId}/stream.mjpeg`;
                viewer.client = await openMjpeg(url, (part) => onPart(viewer, part));
            }),
        );
    }
}

function collect(requestId: number): ViewerCollectMessage {
    const message: ViewerCollectMessage = {
        type: "collect",
        requestId,
        cameraIndexes: Int32Array.from(cameraIndexes),
        counters: Float64Array.from(counters),
        receivedAtMs: Float64Array.from(receivedAtMs),
        checksums: Uint32Array.from(checksums),
        lengths: Int32Array.from(lengths),
        delivered: Int32Array.from(viewers, (viewer) => viewer.delivered),
        corrupt,
        corruptSamples: [...corruptSamples],
        outOfOrder,
        viewerErrors: viewers.reduce((sum, viewer) => sum + (viewer.client?.errors.length ?? 0), 0),
    };
    cameraIndexes = [];
    counters = [];
    receivedAtMs = [];
    checksums = [];
    lengths = [];
    return message;
}

port.on("message", (request: ViewerRequest) => {
    switch (request.type) {
        case "open":
            openAll().then(
                () => port.postMessage({type: "opened", requestId: request.requestId}),
                (error: unknown) =>
                    port.postMessage({
                        type: "opened",
                        requestId: request.requestId,
                        error: error instanceof Error ? error.message : String(error),
                    }),
            );
            break;
        case "collect": {
            const message = collect(request.requestId);
            const buffers = [
                message.cameraIndexes,
                message.counters,
                message.receivedAtMs,
                message.checksums,
                message.lengths,
                message.delivered,
            ];
            port.postMessage(
                message,
                buffers.map((array) => array.buffer as ArrayBuffer),
            );
            break;
        }
        case "close":
            for (const viewer of viewers) {
                viewer.client?.close();
            }
            port.close();
            break;
    }
});
