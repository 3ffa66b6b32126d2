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
 * | POST /api/cameras/:id/wake              |                    | publishes a wake message (see below)     |
 *
 * Only GET is allowed (HEAD and the rest get 405), except POST for `wake`. Query strings are ignored.
 *
 * Cameras that wake on demand (issue 6 item 3): when the directory answers a subscription with
 * `waking`, MJPEG and audio send their headers only with the first frame (or audio chunk), so a camera
 * that never answers the wake gets a clean `504` JSON reply (`{"error","camera","reason"}`) instead of
 * an empty stream; snapshots wait the wake timeout on top of their own.
 *
 * `POST /api/cameras/:id/wake` (Content-Type: application/json, body `{}` or
 * `{"template":"candidate3"}` or `{"template":"custom","payload":{"code":240,"host":"{{host}}"}}`)
 * publishes one wake message now: 200 `{"ok":true,"template","payload"}` (secrets redacted), 400 bad
 * template or payload, 404 unknown camera, 429 + Retry-After within the rate limit, 503 not sent.
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import {
    type CameraDirectory,
    type CameraView,
    type CameraWaker,
    type StreamUnavailableReason,
    WakeEndReason,
    wakeEndReasonOf,
} from "../model/camera.js";
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
    /** Serves POST /api/cameras/:id/wake; without it that route answers 503. */
    readonly waker?: CameraWaker | null | undefined;
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
const CRLF_BYTES = Buffer.from(CRLF, "latin1");

type MediaRoute = "mjpeg" | "snapshot" | "audio";

/** A route's target before the method check: undefined when the path is not ours. */
type Match =
    | {readonly kind: "health" | "list" | "devList"}
    | {readonly kind: "camera"; readonly id: string}
    | {readonly kind: MediaRoute; readonly id: string}
    | {readonly kind: "wake"; readonly id: string};

/** Largest body of POST /api/cameras/:id/wake. */
const MAX_WAKE_BODY_BYTES = 8192;
/** Keys of a wake payload never echoed in clear. */
const SECRET_WAKE_KEYS: ReadonlySet<string> = new Set(["pwd", "cliToken", "token", "tarPwd"]);

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
    /** Streams waiting for a camera to wake (no headers sent yet): cancel functions. */
    readonly #deferred = new Set<() => void>();
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
        const allowed = match.kind === "wake" ? "POST" : "GET";
        if (route.method !== allowed) {
            sendMethodNotAllowed(res, route.method, allowed);
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
            case "wake":
                this.#serveWake(req, res, match.id);
                return true;
            default:
                return assertNever(match);
        }
    }

    /** Ends every open stream and answers every waiting snapshot with 503. */
    closeAll(): void {
        for (const cancel of [...this.#snapshots, ...this.#deferred]) {
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
            frameUnit: (frame) => [partHeaderFor(frame), frame.data, CRLF_BYTES],
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

    /**
     * An endless response fed by a subscription, with the slow-client rule of BoundedStream. For a camera
     * being woken, the headers wait for the first unit: the viewer gets a JSON error instead when the
     * wake fails or nothing arrives within the wake timeout plus the snapshot timeout.
     */
    #serveStream(req: IncomingMessage, res: ServerResponse, id: string, spec: StreamSpec): void {
        if (this.#directory.get(id) === undefined) {
            sendUnknownCamera(res, id);
            return;
        }
        const stream = new BoundedStream(res, spec.maxBufferedBytes);
        let isOpen = false;
        let earlyEnd: string | undefined;
        let subscription: MediaSubscription | undefined;
        /** Set while the headers wait for a camera to wake; ends that wait (timer, server-stop hook). */
        let stopWaiting: (() => void) | undefined;
        const open = (): void => {
            if (isOpen || subscription === undefined || res.writableEnded || res.destroyed) {
                return;
            }
            stopWaiting?.();
            stopWaiting = undefined;
            startStream(res, spec.contentType);
            if (spec.preamble !== undefined) {
                res.write(spec.preamble);
            }
            isOpen = true;
            this.#track(res, spec.kind, stream, subscription, id, req);
        };
        const write = (unit: readonly (Uint8Array | string)[] | undefined): void => {
            if (unit === undefined) {
                return;
            }
            if (stopWaiting !== undefined) {
                open();
            }
            if (isOpen) {
                this.#writeUnit(stream, unit);
            }
        };
        const {frameUnit, audioUnit} = spec;
        const consumer: MediaConsumer = {
            ...(frameUnit === undefined ? {} : {onFrame: (frame: JpegFrame) => write(frameUnit(frame))}),
            ...(audioUnit === undefined ? {} : {onAudio: (chunk: AudioChunk) => write(audioUnit(chunk))}),
            onEnd: (reason: string) => {
                if (isOpen) {
                    this.#log.info(`camera ${id} ended, closing ${spec.kind} viewer`, {reason});
                    res.end();
                } else if (stopWaiting !== undefined) {
                    stopWaiting();
                    stopWaiting = undefined;
                    subscription?.close();
                    sendEnded(res, id, reason);
                } else {
                    earlyEnd = reason;
                }
            },
        };
        const result = this.#directory.subscribe(id, consumer);
        if (!result.ok) {
            sendUnavailable(res, id, result.reason);
            return;
        }
        const pending = result.subscription;
        subscription = pending;
        if (earlyEnd !== undefined) {
            pending.close();
            sendEnded(res, id, earlyEnd);
            return;
        }
        if (result.waking === undefined) {
            open();
            return;
        }
        // issue 6 item 3: the camera is being woken; headers go out with the first unit, or an error instead.
        const waitMs = result.waking.timeoutMs + (this.#options.snapshotTimeoutMs ?? DEFAULT_SNAPSHOT_TIMEOUT_MS);
        this.#log.info(`${spec.kind} viewer of ${id} waits for the camera to wake (up to ${waitMs} ms)`);
        const giveUp = (status: number, message: string, details: Readonly<Record<string, unknown>>): void => {
            stopWaiting?.();
            stopWaiting = undefined;
            pending.close();
            sendJsonError(res, status, message, {camera: id, ...details});
        };
        const onServerStop = (): void => giveUp(503, "server stopping", {});
        const timer = setTimeout(() => {
            this.#log.warn(`${spec.kind} viewer of ${id}: no media ${waitMs} ms after the wake`);
            giveUp(504, "camera sent no frame in time", {reason: "woke but sent nothing", timeoutMs: waitMs});
        }, waitMs);
        this.#deferred.add(onServerStop);
        stopWaiting = () => {
            clearTimeout(timer);
            this.#deferred.delete(onServerStop);
        };
        res.on("close", () => {
            if (stopWaiting !== undefined) {
                stopWaiting();
                stopWaiting = undefined;
                pending.close();
            }
        });
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
        const result = this.#directory.subscribe(id, {
            onFrame: (frame: JpegFrame) => finish(() => sendJpeg(res, frame)),
            onEnd: (reason: string) => finish(() => sendEnded(res, id, reason)),
        });
        if (!result.ok) {
            isDone = true;
            sendUnavailable(res, id, result.reason);
            return;
        }
        subscription = result.subscription;
        if (isDone) {
            subscription.close(); // a frame arrived (or the camera ended) during subscribe()
            return;
        }
        this.#snapshots.add(cancel);
        // A camera being woken first (issue 6 item 3) gets its wake timeout on top.
        const waitMs = timeoutMs + (result.waking?.timeoutMs ?? 0);
        timer = setTimeout(() => {
            this.#log.warn(`snapshot of ${id} timed out after ${waitMs} ms`);
            finish(() => sendJsonError(res, 504, "camera sent no frame in time", {camera: id, timeoutMs: waitMs}));
        }, waitMs);
        res.on("close", () => finish(() => undefined));
    }

    #serveWake(req: IncomingMessage, res: ServerResponse, id: string): void {
        const waker = this.#options.waker;
        if (waker === undefined || waker === null) {
            sendJsonError(res, 503, "waking needs the MQTT side (mqtt.enabled)", {camera: id});
            return;
        }
        const contentType = req.headers["content-type"] ?? "";
        if (!/^application\/json\s*(;|$)/i.test(contentType)) {
            // also keeps cross-site form posts out (a browser must pre-flight JSON)
            sendJsonError(res, 415, "expected Content-Type: application/json");
            return;
        }
        readBody(req, MAX_WAKE_BODY_BYTES).then(
            (body) => {
                if (body === undefined) {
                    sendJsonError(res, 413, "request body too large", {maxBodyBytes: MAX_WAKE_BODY_BYTES});
                    return;
                }
                const request = parseWakeBody(body);
                if (typeof request === "string") {
                    sendJsonError(res, 400, request);
                    return;
                }
                this.#wake(res, waker, id, request);
            },
            (error: unknown) => {
                this.#log.debug(`wake body not read: ${error instanceof Error ? error.message : String(error)}`);
                res.destroy();
            },
        );
    }

    #wake(
        res: ServerResponse,
        waker: CameraWaker,
        id: string,
        request: {readonly template?: string; readonly customPayload?: string},
    ): void {
        waker.wake(id, request).then(
            (result) => {
                if (result.ok) {
                    sendJson(res, 200, {
                        ok: true,
                        camera: id,
                        template: result.template,
                        payload: redactWakePayload(result.payload),
                    });
                    return;
                }
                switch (result.error) {
                    case "unknown-camera":
                        sendUnknownCamera(res, id);
                        return;
                    case "invalid":
                        sendJsonError(res, 400, result.reason, {camera: id});
                        return;
                    case "too-soon": {
                        const retryAfterMs = result.retryAfterMs ?? 1000;
                        sendJsonError(res, 429, result.reason, {camera: id, retryAfterMs}, [
                            ["Retry-After", String(Math.max(1, Math.ceil(retryAfterMs / 1000)))],
                        ]);
                        return;
                    }
                    case "unavailable":
                        sendJsonError(res, 503, `wake not sent: ${result.reason}`, {camera: id});
                        return;
                    default:
                        assertNever(result.error);
                }
            },
            (error: unknown) => {
                this.#log.error(`wake of ${id} failed`, {error});
                sendJsonError(res, 500, "wake failed", {camera: id});
            },
        );
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
            case "wake":
                return {kind: "wake", id};
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

/**
 * The part header of `frame` as bytes, built once per frame for all its viewers (they get the frame one
 * after the other, so one remembered frame is enough). All-Buffer writes also spare Node a string
 * conversion and a storage buffer per viewer and frame.
 */
let lastHeaderFrame: JpegFrame | undefined;
let lastHeader: Buffer = Buffer.alloc(0);
function partHeaderFor(frame: JpegFrame): Buffer {
    if (frame !== lastHeaderFrame) {
        lastHeaderFrame = frame;
        lastHeader = Buffer.from(partHeader(frame.data.length), "latin1");
    }
    return lastHeader;
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

/** A consumer's onEnd before any media: 504 when its camera did not wake in time, else 503, JSON either way. */
function sendEnded(res: ServerResponse, id: string, reason: string): void {
    const wakeEnd = wakeEndReasonOf(reason);
    switch (wakeEnd) {
        case WakeEndReason.timeout:
            sendJsonError(res, 504, "camera did not wake up in time", {camera: id, reason});
            return;
        case WakeEndReason.refused:
            sendJsonError(res, 503, "camera refused the wake", {camera: id, reason});
            return;
        case WakeEndReason.failed:
            sendJsonError(res, 503, "camera could not be woken", {camera: id, reason});
            return;
        case undefined:
            sendJsonError(res, 503, "camera went away", {camera: id, reason});
            return;
        default:
            assertNever(wakeEnd);
    }
}

/** `{}`, `{"template":"candidate2"}` or `{"template":"custom","payload":<object or JSON text>}`; a string is an error. */
function parseWakeBody(body: string): {template?: string; customPayload?: string} | string {
    if (body.trim() === "") {
        return {};
    }
    let value: unknown;
    try {
        value = JSON.parse(body);
    } catch {
        return "body is not JSON";
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return "body must be a JSON object";
    }
    const record = value as Record<string, unknown>;
    const out: {template?: string; customPayload?: string} = {};
    const template = record["template"];
    if (template !== undefined) {
        if (typeof template !== "string") {
            return "template must be a string";
        }
        out.template = template;
    }
    const payload = record["payload"];
    if (typeof payload === "string") {
        out.customPayload = payload;
    } else if (typeof payload === "object" && payload !== null && !Array.isArray(payload)) {
        out.customPayload = JSON.stringify(payload);
    } else if (payload !== undefined) {
        return "payload must be a JSON object or its text";
    }
    return out;
}

function redactWakePayload(payload: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(payload)) {
        out[key] = SECRET_WAKE_KEYS.has(key) && value !== null ? "<redacted>" : value;
    }
    return out;
}

/** The body as UTF-8, or undefined when it exceeds `maxBytes`. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let total = 0;
        const onData = (chunk: Buffer): void => {
            total += chunk.length;
            if (total <= maxBytes) {
                chunks.push(chunk);
            }
        };
        req.on("data", onData);
        req.once("end", () => {
            req.off("data", onData);
            resolve(total > maxBytes ? undefined : Buffer.concat(chunks).toString("utf8"));
        });
        req.once("error", reject);
    });
}

/** s16le → A-law; an odd trailing byte is dropped. */
function pcm16leToAlaw(data: Buffer): Buffer {
    const samples = new Int16Array(data.length >> 1);
    for (let index = 0; index < samples.length; index += 1) {
        samples[index] = data.readInt16LE(index * 2);
    }
    return encodeAlaw(samples);
}
