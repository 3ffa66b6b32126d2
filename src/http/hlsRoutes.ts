/**
 * HLS for browsers (issue 4 item 4): `GET /api/cameras/:id/hls/index.m3u8` and its segments.
 * A playlist request leases the camera's transcoder (which writes ≈1 s MPEG-TS segments with a
 * sliding window into a tmpfs directory) and waits until the first segment exists; every request
 * renews the lease, and the files are removed when the transcoder stops.
 */
import {readFile} from "node:fs/promises";
import type {IncomingMessage, ServerResponse} from "node:http";
import {join} from "node:path";
import type {Logger} from "../util/log.js";
import {type RouteHandler, type RouteRequest, sendJsonError, sendMethodNotAllowed} from "./jsonResponse.js";

export type HlsOpenResult =
    | {readonly ok: true; readonly dir: string}
    | {readonly ok: false; readonly reason: "unknown-camera" | "unavailable" | "timeout"};

/** The media layer as these routes see it (app/mediaWiring.ts passes the media hub). */
export interface HlsProvider {
    /** Renews the camera's HLS lease and resolves once its playlist lists a segment. */
    openHls(cameraId: string): Promise<HlsOpenResult>;
    /** The camera's HLS directory while its transcoder runs (renewing the lease). */
    hlsDirFor(cameraId: string): string | undefined;
}

const PLAYLIST = "index.m3u8";
const SEGMENT = /^seg_\d{1,20}\.ts$/;

export class HlsRoutes implements RouteHandler {
    readonly #provider: HlsProvider | undefined;
    readonly #unavailableReason: string;
    readonly #log: Logger;

    /** Without a provider (no ffmpeg, HLS off) every HLS request answers 503 with `unavailableReason`. */
    constructor(provider: HlsProvider | undefined, log: Logger, unavailableReason = "HLS is not available") {
        this.#provider = provider;
        this.#log = log;
        this.#unavailableReason = unavailableReason;
    }

    handle(_req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        const [first, second, idSegment, fourth, file, ...rest] = route.segments;
        if (first !== "api" || second !== "cameras" || fourth !== "hls" || idSegment === undefined || rest.length > 0) {
            return false;
        }
        if (route.method !== "GET" && route.method !== "HEAD") {
            sendMethodNotAllowed(res, route.method, "GET, HEAD");
            return true;
        }
        const id = decodeSegment(idSegment);
        if (id === undefined || file === undefined || (file !== PLAYLIST && !SEGMENT.test(file))) {
            sendJsonError(res, 404, "not found");
            return true;
        }
        const provider = this.#provider;
        if (provider === undefined) {
            sendJsonError(res, 503, this.#unavailableReason);
            return true;
        }
        const work = file === PLAYLIST ? this.#playlist(provider, id, res) : this.#segment(provider, id, file, res);
        work.catch((error: unknown) => {
            this.#log.error("hls request failed", {error});
            sendJsonError(res, 500, "internal error");
        });
        return true;
    }

    async #playlist(provider: HlsProvider, id: string, res: ServerResponse): Promise<void> {
        const opened = await provider.openHls(id);
        if (!opened.ok) {
            switch (opened.reason) {
                case "unknown-camera":
                    sendJsonError(res, 404, "unknown camera", {id});
                    return;
                case "timeout":
                    sendJsonError(res, 504, "the camera produced no video in time", {id});
                    return;
                default:
                    sendJsonError(res, 503, this.#unavailableReason, {id});
                    return;
            }
        }
        await sendFile(res, join(opened.dir, PLAYLIST), "application/vnd.apple.mpegurl");
    }

    async #segment(provider: HlsProvider, id: string, file: string, res: ServerResponse): Promise<void> {
        const dir = provider.hlsDirFor(id);
        if (dir === undefined) {
            sendJsonError(res, 404, "no HLS stream for this camera; request the playlist first", {id});
            return;
        }
        await sendFile(res, join(dir, file), "video/mp2t");
    }
}

async function sendFile(res: ServerResponse, path: string, contentType: string): Promise<void> {
    let body: Buffer;
    try {
        body = await readFile(path);
    } catch (error) {
        if (error instanceof Error && "code" in error && error.code === "ENOENT") {
            sendJsonError(res, 404, "segment gone");
            return;
        }
        throw error;
    }
    if (res.headersSent || res.destroyed) {
        return;
    }
    res.writeHead(200, {
        "Content-Type": contentType,
        "Content-Length": body.length,
        "Cache-Control": "no-cache",
        "Access-Control-Allow-Origin": "*",
    });
    res.end(res.req.method === "HEAD" ? undefined : body);
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
