/**
 * Simulated cameras in a worker thread (bench/streaming.ts starts `--sim-threads` of them from the
 * transpiled copy, see childBuild.ts), each with its own share of the step's cameras.
 *
 * Why threads: every camera of a Simulator shares one event loop. When that loop stalls (its GC, or
 * the CPU busy with the server and the viewers), every frame that fell due meanwhile leaves at once
 * when it resumes: a burst that independent real cameras never send, and which then queues at the
 * server. With the cameras spread over threads, a stall holds back only that thread's cameras, and a
 * smaller heap per thread means shorter GC pauses. The bench prints how many frames still left late.
 *
 * The worker reports every frame it sent (camera, counter, CLOCK_MONOTONIC time, lateness, checksum) in
 * batches every SIM_SENT_FLUSH_MS; the main thread matches them with the viewers' deliveries.
 */
import {monitorEventLoopDelay} from "node:perf_hooks";
import {parentPort, workerData} from "node:worker_threads";
import {Simulator} from "../src/simulator/simulator.js";
import {
    frameChecksum,
    monotonicOffsetMs,
    SIM_SENT_FLUSH_MS,
    type SimRequest,
    type SimSentMessage,
    type SimWorkerData,
} from "./benchProtocol.js";

const LOOP_DELAY_RESOLUTION_MS = 10;

const data = workerData as SimWorkerData;
if (parentPort === null) {
    throw new Error("simWorker.ts runs as a worker thread");
}
const port = parentPort;
const clockOffsetMs = monotonicOffsetMs();
const simulator = new Simulator({
    cameras: data.cameras,
    firstIndex: data.firstIndex,
    serverHost: data.serverHost,
    httpPort: data.httpPort,
    fps: data.fps,
    frameBytes: data.frameBytes,
    audio: data.audio,
    startSpreadMs: data.startSpreadMs,
});

let cameraIndexes: number[] = [];
let counters: number[] = [];
let sentAtMs: number[] = [];
let lateMs: number[] = [];
let checksums: number[] = [];
let lengths: number[] = [];
let fragments = 0;
simulator.cameras.forEach((camera, index) => {
    camera.on("frameSent", (event) => {
        cameraIndexes.push(data.firstCameraIndex + index);
        counters.push(event.counter);
        sentAtMs.push(clockOffsetMs + event.sentAtPerfMs);
        lateMs.push(event.lateMs);
        checksums.push(frameChecksum(event.jpeg));
        lengths.push(event.jpeg.length);
        fragments = event.fragments;
    });
});

function flushSent(): void {
    if (cameraIndexes.length === 0) {
        return;
    }
    const message: SimSentMessage = {
        type: "sent",
        cameraIndexes: Int32Array.from(cameraIndexes),
        counters: Float64Array.from(counters),
        sentAtMs: Float64Array.from(sentAtMs),
        lateMs: Float64Array.from(lateMs),
        checksums: Uint32Array.from(checksums),
        lengths: Int32Array.from(lengths),
        fragments,
    };
    cameraIndexes = [];
    counters = [];
    sentAtMs = [];
    lateMs = [];
    checksums = [];
    lengths = [];
    const buffers = [
        message.cameraIndexes,
        message.counters,
        message.sentAtMs,
        message.lateMs,
        message.checksums,
        message.lengths,
    ];
    port.postMessage(
        message,
        buffers.map((array) => array.buffer as ArrayBuffer),
    );
}

const flushTimer = setInterval(flushSent, SIM_SENT_FLUSH_MS);
const loopDelay = monitorEventLoopDelay({resolution: LOOP_DELAY_RESOLUTION_MS});
loopDelay.enable();

port.on("message", (request: SimRequest) => {
    switch (request.type) {
        case "start":
            simulator.start();
            break;
        case "stats": {
            // the histogram records whole sampling intervals: the lag is what exceeds the resolution
            const loopLagP99Ms = Math.max(0, loopDelay.percentile(99) / 1e6 - LOOP_DELAY_RESOLUTION_MS);
            if (request.resetLoopLag === true) {
                loopDelay.reset();
            }
            port.postMessage({type: "stats", requestId: request.requestId, stats: simulator.stats(), loopLagP99Ms});
            break;
        }
        case "stop":
            clearInterval(flushTimer);
            loopDelay.disable();
            flushSent();
            simulator.stop({abrupt: true}).then(
                () => {
                    port.postMessage({type: "stopped", requestId: request.requestId});
                    port.close();
                },
                () => {
                    port.postMessage({type: "stopped", requestId: request.requestId});
                    port.close();
                },
            );
            break;
    }
});
