/**
 * `GET /api/cameras/:id/capture[?seconds=N]` (issue 6 item 5, decisions.md 19): streams one
 * camera's exchanges with the bridge as NDJSON (one redacted JSON record per line, built by the
 * CaptureService in capture/) until N seconds pass, the client goes away or the server stops.
 *
 * The id need not be known to the camera layer: a camera that only ever calls getDevInfo (an
 * MQTT-first camera, or a new firmware that stops there) is exactly what a capture is for.
 * The response is close-delimited like the MJPEG stream; a slow client loses whole lines (counted in
 * a `{"proto":"capture","event":"dropped"}` line) instead of growing the server's memory.
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import type {CaptureHandle, CaptureService} from "../model/captureTap.js";
import type {Logger} from "../util/log.js";
import {BoundedStream} from "./boundedStream.js";
import {type RouteHandler, type RouteRequest, sendJsonError, sendMethodNotAllowed} from "./jsonResponse.js";

export interface CaptureRoutesOptions {
    /** Longest capture, and its length when `seconds` is not given. Default 3600. */
    readonly maxSeconds?: number | undefined;
    /** Per client: lines are dropped while more than this is buffered. Default 1 MiB. */
    readonly maxBufferedBytes?: number | undefined;
    /** Most captures running at once. Default 8. */
    readonly maxConcurrent?: number | undefined;
    /** Clock for the dropped-lines record. Default Date.now. */
    readonly nowMs?: (() => number) | undefined;
}

export const DEFAULT_CAPTURE_MAX_SECONDS = 3600;
export const DEFAULT_CAPTURE_MAX_BUFFERED_BYTES = 1024 * 1024;
export const DEFAULT_CAPTURE_MAX_CONCURRENT = 8;
export const NDJSON_CONTENT_TYPE = "application/x-ndjson; charset=utf-8";

/** Device ids are opaque 12-character strings (protocol-notes.md §3.3); accept a little more, nothing odd. */
const CAMERA_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export class CaptureRoutes implements RouteHandler {
    readonly #service: CaptureService;
    readonly #options: CaptureRoutesOptions;
    readonly #log: Logger;
    readonly #nowMs: () => number;
    readonly #running = new Set<CaptureHandle>();

    constructor(service: CaptureService, options: CaptureRoutesOptions, log: Logger) {
        this.#service = service;
        this.#options = options;
        this.#log = log;
        this.#nowMs = options.nowMs ?? Date.now;
    }

    /** Captures streaming right now. */
    get runningCount(): number {
        return this.#running.size;
    }

    handle(req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        const [first, second, third, fourth, ...rest] = route.segments;
        if (first !== "api" || second !== "cameras" || third === undefined || fourth !== "capture" || rest.length > 0) {
            return false;
        }
        if (route.method !== "GET") {
            sendMethodNotAllowed(res, route.method, "GET");
            return true;
        }
        const id = decodeId(third);
        if (id === undefined) {
            sendJsonError(res, 400, "bad camera id", {camera: third});
            return true;
        }
        const maxSeconds = this.#options.maxSeconds ?? DEFAULT_CAPTURE_MAX_SECONDS;
        const seconds = parseSeconds(new URLSearchParams(route.query).get("seconds"), maxSeconds);
        if (seconds === undefined) {
            sendJsonError(res, 400, "seconds must be a whole number from 1 to the maximum", {maxSeconds});
            return true;
        }
        const maxConcurrent = this.#options.maxConcurrent ?? DEFAULT_CAPTURE_MAX_CONCURRENT;
        if (this.#running.size >= maxConcurrent) {
            sendJsonError(res, 503, "too many captures running", {maxConcurrent});
            return true;
        }
        this.#serve(req, res, id, seconds);
        return true;
    }

    /** Ends every running capture (its last line says why). */
    closeAll(): void {
        for (const handle of [...this.#running]) {
            handle.stop("server stopping");
        }
    }

    #serve(req: IncomingMessage, res: ServerResponse, id: string, seconds: number): void {
        res.removeHeader("Transfer-Encoding"); // close-delimited body, like the MJPEG stream
        res.setHeader("Connection", "close");
        res.writeHead(200, {"Content-Type": NDJSON_CONTENT_TYPE, "Cache-Control": "no-store"});
        res.flushHeaders();
        const stream = new BoundedStream(res, this.#options.maxBufferedBytes ?? DEFAULT_CAPTURE_MAX_BUFFERED_BYTES);
        let dropped = 0;
        let isEnded = false;
        const handle = this.#service.start(
            id,
            {
                write: (line: string) => {
                    if (isEnded) {
                        return;
                    }
                    if (dropped > 0) {
                        const note = JSON.stringify({
                            t: new Date(this.#nowMs()).toISOString(),
                            camera: id,
                            proto: "capture",
                            event: "dropped",
                            lines: dropped,
                        });
                        if (!stream.write([note, "\n"])) {
                            dropped += 1;
                            return;
                        }
                        dropped = 0;
                    }
                    if (!stream.write([line, "\n"])) {
                        dropped += 1;
                    }
                },
                end: (reason: string) => {
                    if (isEnded) {
                        return;
                    }
                    isEnded = true;
                    this.#running.delete(handle);
                    this.#log.info(`capture of ${id} ended (${reason})`);
                    res.end();
                },
            },
            {durationMs: seconds * 1000},
        );
        if (isEnded) {
            return; // the service ended it at once
        }
        this.#running.add(handle);
        this.#log.info(`capture of ${id} started for ${seconds} s by ${req.socket.remoteAddress ?? "?"}`);
        res.on("close", () => handle.stop("client went away"));
    }
}

function decodeId(segment: string): string | undefined {
    let id: string;
    try {
        id = decodeURIComponent(segment);
    } catch (error) {
        if (error instanceof URIError) {
            return undefined;
        }
        throw error;
    }
    return CAMERA_ID.test(id) ? id : undefined;
}

/** Missing → the maximum; otherwise a whole number in [1, max], else undefined. */
function parseSeconds(text: string | null, maxSeconds: number): number | undefined {
    if (text === null || text === "") {
        return maxSeconds;
    }
    if (!/^\d{1,7}$/.test(text)) {
        return undefined;
    }
    const seconds = Number(text);
    return seconds >= 1 && seconds <= maxSeconds ? seconds : undefined;
}
