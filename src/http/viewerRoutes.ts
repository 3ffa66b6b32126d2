/**
 * The viewer API (issue 2 item 4): camera JSON, MJPEG, snapshot and A-law WAV, plus the original
 * Python fake server's `/dev/...` routes as aliases. Reaches cameras only through CameraDirectory.
 *
 * | Route                                   | Alias              | Reply                                    |
 * |-----------------------------------------|--------------------|------------------------------------------|
 * | GET /healthz                            |                    | {"status":"ok"}                          |
 * | GET /api/cameras                        |                    | CameraJson[]                             |
 * | GET /api/cameras/:id                    |                    | CameraJson                               |
 * | GET /api/cameras/:id/stream.mjpeg       | /dev/:id/live      | multipart/x-mixed-replace, one JPEG/part |
 * | GET /api/cameras/:id/snapshot.jpg       | /dev/:id/snapshot  | image/jpeg, or 504 JSON after a timeout  |
 * | GET /api/cameras/:id/audio.wav          | /dev/:id/audio     | endless WAV, G.711 A-law 8 kHz mono      |
 * |                                         | /dev/list          | [{"uid","host","port"}] (TCP peer)       |
 *
 * Only GET is allowed (HEAD and the rest get 405). Query strings are ignored.
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import type {CameraDirectory, CameraView, StreamUnavailableReason} from "../model/camera.js";
import type {AudioChunk, JpegFrame, MediaConsumer, MediaSubscription} from "../model/media.js";
import {encodeAlaw} from "../protocol/g711.js";
import {buildWavHeader} from "../protocol/wav.js";
import {assertNever} from "../util/assertNever.js";
import type {Logger} from "../util/log.js";
import {BoundedStream} from "./boundedStream.js";
import {
    buildCameraJson,
    buildDevList,
    buildStreamUrls,
    type CameraJson,
    resolvePublicHost,
    type UrlOptions,
} from "./cameraJson.js";
import {type RouteHandler, type RouteRequest, sendJson, sendJsonError, sendMethodNotAllowed} from "./jsonResponse.js";

export interface ViewerRoutesOptions extends UrlOptions {
    /** A snapshot request is answered from the latest frame when it is at most this old. Default 2000. */
    readonly snapshotMaxAgeMs?: number | undefined;
    /** How long a snapshot request waits for a frame after waking the stream. Default 10000. */
    readonly snapshotTimeoutMs?: number | undefined;
    /** Per MJPEG viewer: frames are dropped while more than this is buffered. Default 512 KiB. */
    readonly maxBufferedVideoBytes?: number | undefined;
    /** Per audio listener: chunks are dropped while more than this is buffered. Default 64 KiB (8 s). */
    readonly maxBufferedAudioBytes?: number | undefined;
    /** Wall clock for snapshot freshness (compared with JpegFrame.receivedAtMs). Default Date.now. */
    readonly nowMs?: (() => number) | undefined;
}

/** Live figures for diagnostics and tests. */
export interface ViewerStats {
    readonly mjpegViewers: number;
    readonly audioListeners: number;
    readonly pendingSnapshots: number;
    /** Bytes written to viewers but not yet taken by their sockets, over all open streams. */
    readonly bufferedBytes: number;
    /** The largest per-stream buffered byte count seen right after a write, since start. */
    readonly peakBufferedBytes: number;
    readonly framesSent: number;
    /** Frames (and audio chunks) skipped because a client was behind, since start. */
    readonly framesDropped: number;
}

export const DEFAULT_SNAPSHOT_MAX_AGE_MS = 2000;
export const DEFAULT_SNAPSHOT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BUFFERED_VIDEO_BYTES = 512 * 1024;
export const DEFAULT_MAX_BUFFERED_AUDIO_BYTES = 64 * 1024;
export const MJPEG_BOUNDARY = "v720bridge-mjpeg-frame";

/** protocol-notes.md §9.4: cmd 4 audio is G.711 A-law, 8000 Hz, mono. */
const AUDIO_SAMPLE_RATE = 8000;
const CRLF = "\r\n";

type MediaRoute = "mjpeg" | "snapshot" | "audio";

/** A route's target before the method check: undefined when the path is not ours. */
type Match =
    | {readonly kind: "health" | "list" | "devList"}
    | {readonly kind: "camera"; readonly id: string}
    | {readonly kind: MediaRoute; readonly id: string};

interface StreamSpec {
    readonly kind: OpenStream["kind"];
    readonly contentType: string;
    readonly maxBufferedBytes: number;
    /** Written once after the headers (the WAV header). */
    readonly preamble: Buffer | undefined;
    /** The chunks of one unit for a frame, or undefined to skip it. */
    readonly frameUnit: ((frame: JpegFrame) => readonly (Uint8Array | string)[] | undefined) | undefined;
    readonly audioUnit: ((chunk: AudioChunk) => readonly (Uint8Array | string)[] | undefined) | undefined;
}

interface OpenStream {
    readonly kind: "mjpeg" | "audio";
    readonly stream: BoundedStream;
    end(): void;
}

export class ViewerRoutes implements RouteHandler {
    readonly #directory: CameraDirectory;
    readonly #options: ViewerRoutesOptions;
    readonly #log: Logger;
    readonly #nowMs: () => number;
    readonly #streams = new Set<OpenStream>();
    readonly #snapshots = new Set<() => void>();
    #framesSent = 0;
    #framesDropped = 0;
    #peakBufferedBytes = 0;

    constructor(directory: CameraDirectory, options: ViewerRoutesOptions, log: Logger) {
        this.#directory = directory;
        this.#options = options;
        this.#log = log;
        this.#nowMs = options.nowMs ?? Date.now;
    }

    handle(req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        const match = matchRoute(route.segments);
        if (match === undefined) {
            return false;
        }
        if (route.method !== "GET") {
            sendMethodNotAllowed(res, route.method, "GET");
            return true;
        }
        switch (match.kind) {
            case "health":
                sendJson(res, 200, {status: "ok"});
                return true;
            case "list":
                sendJson(
                    res,
                    200,
                    this.#directory.list().map((view) => this.#cameraJson(view, req)),
                );
                return true;
            case "devList":
                sendJson(res, 200, buildDevList(this.#directory.list()));
                return true;
            case "camera": {
                const view = this.#directory.get(match.id);
                if (view === undefined) {
                    sendUnknownCamera(res, match.id);
                } else {
                    sendJson(res, 200, this.#cameraJson(view, req));
                }
                return true;
            }
            case "mjpeg":
                this.#serveMjpeg(req, res, match.id);
                return true;
            case "snapshot":
                this.#serveSnapshot(res, match.id);
                return true;
            case "audio":
                this.#serveAudio(req, res, match.id);
                return true;
            default:
                return assertNever(match);
        }
    }

    /** Ends every open stream and answers every waiting snapshot with 503. */
    closeAll(): void {
        for (const cancel of [...this.#snapshots]) {
            cancel();
        }
        for (const open of [...this.#streams]) {
            open.end();
        }
    }

    stats(): ViewerStats {
        let mjpegViewers = 0;
        let audioListeners = 0;
        let bufferedBytes = 0;
        for (const open of this.#streams) {
            if (open.kind === "mjpeg") {
                mjpegViewers += 1;
            } else {
                audioListeners += 1;
            }
            bufferedBytes += open.stream.bufferedBytes;
        }
        return {
            mjpegViewers,
            audioListeners,
            pendingSnapshots: this.#snapshots.size,
            bufferedBytes,
            peakBufferedBytes: this.#peakBufferedBytes,
            framesSent: this.#framesSent,
            framesDropped: this.#framesDropped,
        };
    }

    #cameraJson(view: CameraView, req: IncomingMessage): CameraJson {
        const host = resolvePublicHost(req.headers.host, this.#options);
        return buildCameraJson(view, buildStreamUrls(view.id, host, this.#options));
    }

    #serveMjpeg(req: IncomingMessage, res: ServerResponse, id: string): void {
        this.#serveStream(req, res, id, {
            kind: "mjpeg",
            contentType: `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
            maxBufferedBytes: this.#options.maxBufferedVideoBytes ?? DEFAULT_MAX_BUFFERED_VIDEO_BYTES,
            preamble: undefined,
            frameUnit: (frame) => [partHeader(frame.data.length), frame.data, CRLF],
            audioUnit: undefined,
        });
    }

    #serveAudio(req: IncomingMessage, res: ServerResponse, id: string): void {
        // The WAV is A-law. A camera that sends only cmd 6 PCM (firmware 202312111512, protocol-notes.md
        // §9.4, format guessed as s16le) is encoded to A-law; the first codec seen is kept so two
        // audio sources are never interleaved.
        let codec: AudioChunk["codec"] | undefined;
        this.#serveStream(req, res, id, {
            kind: "audio",
            contentType: "audio/wav",
            maxBufferedBytes: this.#options.maxBufferedAudioBytes ?? DEFAULT_MAX_BUFFERED_AUDIO_BYTES,
            preamble: buildWavHeader({format: "alaw", sampleRate: AUDIO_SAMPLE_RATE, channels: 1}),
            frameUnit: undefined,
            audioUnit: (chunk) => {
                codec ??= chunk.codec;
                if (chunk.codec !== codec) {
                    return undefined;
                }
                return [chunk.codec === "alaw" ? chunk.data : pcm16leToAlaw(chunk.data)];
            },
        });
    }

    /** An endless response fed by a subscription, with the slow-client rule of BoundedStream. */
    #serveStream(req: IncomingMessage, res: ServerResponse, id: string, spec: StreamSpec): void {
        if (this.#directory.get(id) === undefined) {
            sendUnknownCamera(res, id);
            return;
        }
        const stream = new BoundedStream(res, spec.maxBufferedBytes);
        let isOpen = false;
        let earlyEnd: string | undefined;
        const write = (unit: readonly (Uint8Array | string)[] | undefined): void => {
            if (isOpen && unit !== undefined) {
                this.#writeUnit(stream, unit);
            }
        };
        const {frameUnit, audioUnit} = spec;
        const consumer: MediaConsumer = {
            ...(frameUnit === undefined ? {} : {onFrame: (frame: JpegFrame) => write(frameUnit(frame))}),
            ...(audioUnit === undefined ? {} : {onAudio: (chunk: AudioChunk) => write(audioUnit(chunk))}),
            onEnd: (reason: string) => {
                if (!isOpen) {
                    earlyEnd = reason;
                    return;
                }
                this.#log.info(`camera ${id} ended, closing ${spec.kind} viewer`, {reason});
                res.end();
            },
        };
        const subscription = this.#subscribe(res, id, consumer);
        if (subscription === undefined) {
            return;
        }
        if (earlyEnd !== undefined) {
            subscription.close();
            sendJsonError(res, 503, "camera went away", {camera: id, reason: earlyEnd});
            return;
        }
        startStream(res, spec.contentType);
        if (spec.preamble !== undefined) {
            res.write(spec.preamble);
        }
        isOpen = true;
        this.#track(res, spec.kind, stream, subscription, id, req);
    }

    #serveSnapshot(res: ServerResponse, id: string): void {
        if (this.#directory.get(id) === undefined) {
            sendUnknownCamera(res, id);
            return;
        }
        const maxAgeMs = this.#options.snapshotMaxAgeMs ?? DEFAULT_SNAPSHOT_MAX_AGE_MS;
        const latest = this.#directory.latestFrame(id);
        if (latest !== undefined && this.#nowMs() - latest.receivedAtMs <= maxAgeMs) {
            sendJpeg(res, latest);
            return;
        }
        // Stale or no frame: subscribing wakes the stream; answer with the first frame that arrives.
        const timeoutMs = this.#options.snapshotTimeoutMs ?? DEFAULT_SNAPSHOT_TIMEOUT_MS;
        let isDone = false;
        let subscription: MediaSubscription | undefined;
        let timer: NodeJS.Timeout | undefined;
        const finish = (answer: () => void): void => {
            if (isDone) {
                return;
            }
            isDone = true;
            clearTimeout(timer);
            this.#snapshots.delete(cancel);
            subscription?.close();
            answer();
        };
        const cancel = (): void =>
            finish(() => sendJsonError(res, 503, "server stopping", {camera: id}, [["Connection", "close"]]));
        subscription = this.#subscribe(res, id, {
            onFrame: (frame: JpegFrame) => finish(() => sendJpeg(res, frame)),
            onEnd: (reason: string) => finish(() => sendJsonError(res, 503, "camera went away", {camera: id, reason})),
        });
        if (subscription === undefined) {
            isDone = true;
            return;
        }
        if (isDone) {
            subscription.close(); // a frame arrived during subscribe()
            return;
        }
        this.#snapshots.add(cancel);
        timer = setTimeout(() => {
            this.#log.warn(`snapshot of ${id} timed out after ${timeoutMs} ms`);
            finish(() => sendJsonError(res, 504, "camera sent no frame in time", {camera: id, timeoutMs}));
        }, timeoutMs);
        res.on("close", () => finish(() => undefined));
    }

    /** Subscribes, or answers 404/503 and returns undefined. */
    #subscribe(res: ServerResponse, id: string, consumer: MediaConsumer): MediaSubscription | undefined {
        const result = this.#directory.subscribe(id, consumer);
        if (result.ok) {
            return result.subscription;
        }
        sendUnavailable(res, id, result.reason);
        return undefined;
    }

    /** Runs on the camera's hot path: never throws. */
    #writeUnit(stream: BoundedStream, chunks: readonly (Uint8Array | string)[]): void {
        try {
            if (stream.write(chunks)) {
                this.#framesSent += 1;
                this.#peakBufferedBytes = Math.max(this.#peakBufferedBytes, stream.bufferedBytes);
            } else {
                this.#framesDropped += 1;
            }
        } catch (error) {
            this.#log.error("writing to a viewer failed", {error});
        }
    }

    #track(
        res: ServerResponse,
        kind: OpenStream["kind"],
        stream: BoundedStream,
        subscription: MediaSubscription,
        id: string,
        req: IncomingMessage,
    ): void {
        const peer = req.socket.remoteAddress ?? "?";
        const open: OpenStream = {kind, stream, end: () => res.end()};
        this.#streams.add(open);
        this.#log.info(`${kind} viewer ${peer} opened camera ${id}`);
        res.on("close", () => {
            this.#streams.delete(open);
            subscription.close();
            this.#log.info(
                `${kind} viewer ${peer} closed camera ${id}: ${stream.unitsWritten} sent, ${stream.unitsDropped} dropped`,
            );
        });
    }
}

function matchRoute(segments: readonly string[]): Match | undefined {
    const [first, second, third, fourth, ...rest] = segments;
    if (rest.length > 0) {
        return undefined;
    }
    if (first === "healthz" && second === undefined) {
        return {kind: "health"};
    }
    if (first === "api" && second === "cameras") {
        if (third === undefined) {
            return {kind: "list"};
        }
        const id = decodeSegment(third);
        if (id === undefined) {
            return undefined;
        }
        switch (fourth) {
            case undefined:
                return {kind: "camera", id};
            case "stream.mjpeg":
                return {kind: "mjpeg", id};
            case "snapshot.jpg":
                return {kind: "snapshot", id};
            case "audio.wav":
                return {kind: "audio", id};
            default:
                return undefined;
        }
    }
    if (first === "dev" && fourth === undefined) {
        if (second === "list" && third === undefined) {
            return {kind: "devList"};
        }
        const id = second === undefined ? undefined : decodeSegment(second);
        if (id === undefined) {
            return undefined;
        }
        switch (third) {
            case "live":
                return {kind: "mjpeg", id};
            case "snapshot":
                return {kind: "snapshot", id};
            case "audio":
                return {kind: "audio", id};
            default:
                return undefined;
        }
    }
    return undefined;
}

function decodeSegment(segment: string): string | undefined {
    try {
        const decoded = decodeURIComponent(segment);
        return decoded === "" ? undefined : decoded;
    } catch (error) {
        if (error instanceof URIError) {
            return undefined;
        }
        throw error;
    }
}

function partHeader(length: number): string {
    return `--${MJPEG_BOUNDARY}${CRLF}Content-Type: image/jpeg${CRLF}Content-Length: ${length}${CRLF}${CRLF}`;
}

/**
 * Headers of an endless response: no Content-Length and no chunked encoding (the body ends when the
 * connection closes), sent at once so the client sees 200 before the first frame.
 */
function startStream(res: ServerResponse, contentType: string): void {
    res.removeHeader("Transfer-Encoding"); // Node then writes a close-delimited body instead of chunks
    res.setHeader("Pragma", "no-cache");
    res.setHeader("Connection", "close");
    res.writeHead(200, {"Content-Type": contentType, "Cache-Control": "no-cache, no-store, must-revalidate"});
    res.flushHeaders();
}

function sendJpeg(res: ServerResponse, frame: JpegFrame): void {
    if (res.headersSent || res.writableEnded || res.destroyed) {
        return;
    }
    res.writeHead(200, {
        "Content-Type": "image/jpeg",
        "Content-Length": frame.data.length,
        "Cache-Control": "no-store",
        "Last-Modified": new Date(frame.receivedAtMs).toUTCString(),
    });
    res.end(frame.data);
}

function sendUnknownCamera(res: ServerResponse, id: string): void {
    sendJsonError(res, 404, "unknown camera", {camera: id});
}

function sendUnavailable(res: ServerResponse, id: string, reason: StreamUnavailableReason): void {
    switch (reason) {
        case "unknown-camera":
            sendUnknownCamera(res, id);
            return;
        case "offline":
            sendJsonError(res, 503, "camera offline", {camera: id});
            return;
        default:
            assertNever(reason);
    }
}

/** s16le → A-law; an odd trailing byte is dropped. */
function pcm16leToAlaw(data: Buffer): Buffer {
    const samples = new Int16Array(data.length >> 1);
    for (let index = 0; index < samples.length; index += 1) {
        samples[index] = data.readInt16LE(index * 2);
    }
    return encodeAlaw(samples);
}
