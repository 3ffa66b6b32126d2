/**
 * The bench's MJPEG viewers, in their own worker thread (bench/streaming.ts starts it from the
 * transpiled copy, see childBuild.ts). The simulated cameras keep the bench's main thread busy in
 * bursts (26 sends per frame); with the viewers on that same event loop, a part that arrived during
 * a burst was time-stamped only after it, and the bench's own lag was charged to the server. Here
 * a part is stamped as soon as it is complete, on an event loop that does nothing else.
 *
 * Every part is checked: it must be a simulator frame of this viewer's camera, byte-identical to
 * the deterministic re-rendering of that camera and counter (`SyntheticJpegSource.render`), and its
 * counter must be above the previous one. Deliveries are kept as (camera, counter, absolute time)
 * until the main thread collects them, on CLOCK_MONOTONIC (benchProtocol.ts monotonicOffsetMs), the
 * clock every process and thread of the bench shares.
 */
import {parentPort, workerData} from "node:worker_threads";
import {createSyntheticJpegSource, readSimFrameInfo} from "../src/simulator/syntheticJpeg.js";
import {type MjpegClient, type MjpegPart, openMjpeg} from "../tests/support/mjpegClient.js";
import {
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
const source = createSyntheticJpegSource({targetBytes: data.frameBytes});
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
    const expected = source.render(viewer.cameraId, info.counter);
    if (!part.data.equals(expected)) {
        recordCorrupt(
            `${viewer.cameraId} frame ${info.counter}: ${part.data.length} bytes delivered, ${expected.length} sent, ` +
                `first difference at byte ${firstDifference(part.data, expected)}`,
        );
    }
    if (info.counter <= viewer.lastCounter) {
        outOfOrder += 1;
    } else {
        viewer.lastCounter = info.counter;
    }
    cameraIndexes.push(viewer.index);
    counters.push(info.counter);
    receivedAtMs.push(atMs);
}

function recordCorrupt(description: string): void {
    corrupt += 1;
    if (corruptSamples.length < 3) {
        corruptSamples.push(description);
    }
}

function firstDifference(a: Buffer, b: Buffer): number {
    const length = Math.min(a.length, b.length);
    for (let index = 0; index < length; index += 1) {
        if (a[index] !== b[index]) {
            return index;
        }
    }
    return length;
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
        delivered: Int32Array.from(viewers, (viewer) => viewer.delivered),
        corrupt,
        corruptSamples: [...corruptSamples],
        outOfOrder,
        viewerErrors: viewers.reduce((sum, viewer) => sum + (viewer.client?.errors.length ?? 0), 0),
    };
    cameraIndexes = [];
    counters = [];
    receivedAtMs = [];
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
            const buffers = [message.cameraIndexes, message.counters, message.receivedAtMs, message.delivered];
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
