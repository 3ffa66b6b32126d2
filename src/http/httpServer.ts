/**
 * node:http edge: one request handler for the camera bootstrap (bootstrapRoutes.ts) and the viewer
 * routes (RouteHandler list, e.g. ViewerRoutes), listening on one or more ports (the app uses
 * http.port and cloud.http_port; tests use port 0).
 *
 * Camera quirks this honours (protocol-notes.md §3.1–3.2, new-firmware-notes.md §1.5, §4.4):
 * - the bootstrap POST has no body and no Content-Length: it is answered on the 'request' event
 *   (requests for sinkholed hosts and unknown paths, which may carry a body such as a log upload,
 *   are answered once their body is read, so closing the connection never cuts an upload);
 * - every reply to a camera is byte-exact and written by one function: status line `HTTP/1.1 200 `
 *   (no reason phrase, exactly like the real cloud's nginx), then Server, Date (injected clock),
 *   Content-Type, Content-Length (UTF-8 bytes), Connection, one blank line, then the JSON and nothing
 *   else — no Keep-Alive or Transfer-Encoding header, no CRLF before `{` (intx82's bug, §1.5);
 * - requests for the hosts newer firmware looks up (dl2/home/logo.naxclow.com[.cn]) are recognised by
 *   their Host header, whatever the path or method, answered harmlessly and reported (bootstrapRoutes.ts);
 * - unknown bootstrap paths, sinkholed hosts and unknown paths asked for by a camera (it sent a
 *   `version` header) land in `diagnostics` (served by diagnosticsRoutes.ts), and every camera
 *   exchange goes to the capture tap while a capture runs (model/captureTap.ts).
 *
 * Limits: header size, header/request deadlines (they stop counting once a request is fully read,
 * so endless MJPEG/WAV responses are not cut), request bodies are discarded and a body above
 * `maxBodyBytes` closes the connection. Every error is JSON (`{"error": ...}`).
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from "node:http";
import type {AddressInfo, Socket} from "node:net";
import type {Duplex} from "node:stream";
import type {CaptureTap} from "../model/captureTap.js";
import {hexPreview} from "../util/hex.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {
    type BootstrapEvent,
    type BootstrapOptions,
    type BootstrapRequest,
    buildCloudReplyHeaders,
    handleBootstrapRequest,
    handleSinkholeRequest,
    normalizeHost,
    stripIpv4Mapped,
} from "./bootstrapRoutes.js";
import {BootstrapDiagnostics, type DiagnosticsOptions, type UnknownRequestKind} from "./diagnostics.js";
import {type RouteHandler, type RouteRequest, sendJsonError} from "./jsonResponse.js";

export interface HttpServerOptions {
    /** The fake cloud's answers (tcpPort, advertiseHost, id and password sources, clock). */
    readonly bootstrap: BootstrapOptions;
    /** Called after each bootstrap reply (firmware, last contact, unknown paths). Errors are logged, not thrown. */
    readonly onBootstrapEvent?: ((event: BootstrapEvent) => void) | undefined;
    /** Largest request head. Default 16 KiB; larger heads get 431. */
    readonly maxHeaderBytes?: number | undefined;
    /** Request bodies are read and discarded; more than this closes the connection (413 when declared). Default 64 KiB. */
    readonly maxBodyBytes?: number | undefined;
    /** Deadline for a request head. Default 10 s. */
    readonly headersTimeoutMs?: number | undefined;
    /** Deadline for a whole request (head and body; not the response). Default 30 s. */
    readonly requestTimeoutMs?: number | undefined;
    /** Idle keep-alive connections close after this. Default 5 s. */
    readonly keepAliveTimeoutMs?: number | undefined;
    /** How often Node checks the two deadlines above. Default 1 s. */
    readonly connectionsCheckingIntervalMs?: number | undefined;
    /** Replies to cameras say `Connection: keep-alive` (and keep it open) instead of `close`. Default false. */
    readonly cloudKeepAlive?: boolean | undefined;
    /** Limits of the unknown-request rings and firmware table. */
    readonly diagnostics?: DiagnosticsOptions | undefined;
}

export interface ListenAddress {
    readonly port: number;
    /** Interface to bind; all interfaces when unset. */
    readonly host?: string | undefined;
}

export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Request body bytes kept for the capture (bodies are read and discarded otherwise). */
const BODY_PREVIEW_BYTES = 1024;

/** A reply to a camera, before the head is built. */
interface CameraReply {
    readonly status: number;
    /** Empty for 200, like the real cloud's nginx (`HTTP/1.1 200 `). */
    readonly reason: string;
    readonly body: string;
    readonly extraHeaders?: readonly (readonly [string, string])[];
}

/** What is known about a camera request for diagnostics and the capture. */
interface CameraRequestInfo {
    readonly kind: BootstrapEvent["kind"] | "other";
    readonly unknown: UnknownRequestKind | undefined;
    readonly deviceId: string | undefined;
    readonly host: string | undefined;
    readonly cloud: BootstrapRequest;
}

/** The first bytes of a request body and its total size. */
interface BodyTracker {
    readonly chunks: Buffer[];
    previewBytes: number;
    totalBytes: number;
}

export class HttpServer {
    /** Unknown endpoints, recent camera requests and firmware versions seen (GET /api/diagnostics). */
    readonly diagnostics: BootstrapDiagnostics;
    readonly #options: HttpServerOptions;
    readonly #handlers: RouteHandler[];
    readonly #log: Logger;
    readonly #badInput = new RateLimitedCounter();
    readonly #servers: Server[] = [];
    /** Sockets with a response in progress: a client error there must not write a second response. */
    readonly #busySockets = new WeakSet<Duplex>();

    #captureTap: CaptureTap | undefined;

    constructor(options: HttpServerOptions, handlers: readonly RouteHandler[], log: Logger) {
        this.#options = options;
        this.#handlers = [...handlers];
        this.#log = log;
        this.diagnostics = new BootstrapDiagnostics({nowMs: options.bootstrap.nowMs, ...options.diagnostics});
    }

    /** Adds a route group after the ones given to the constructor (asked after them, before the 404). */
    addRouteHandler(handler: RouteHandler): void {
        this.#handlers.push(handler);
    }

    /** Camera HTTP exchanges go to `tap` while it is active; undefined unplugs it. */
    setCaptureTap(tap: CaptureTap | undefined): void {
        this.#captureTap = tap;
    }

    /**
     * Listens on every address; resolves with the bound ports in the same order. On failure closes
     * what was opened and rejects with the original listen error (its `code`, e.g. EADDRINUSE, kept).
     */
    async start(addresses: readonly ListenAddress[]): Promise<number[]> {
        const ports: number[] = [];
        try {
            for (const address of addresses) {
                ports.push(await this.#listen(address));
            }
        } catch (error) {
            await this.stop();
            throw error;
        }
        return ports;
    }

    /** Ends streaming responses, closes every connection and listener. Idempotent. */
    async stop(): Promise<void> {
        for (const handler of this.#handlers) {
            handler.closeAll?.();
        }
        const servers = this.#servers.splice(0);
        await Promise.all(
            servers.map(
                (server) =>
                    new Promise<void>((resolve) => {
                        if (!server.listening) {
                            resolve();
                            return;
                        }
                        server.close(() => resolve());
                        server.closeAllConnections();
                    }),
            ),
        );
    }

    /** Bound ports of the running listeners. */
    ports(): number[] {
        const ports: number[] = [];
        for (const server of this.#servers) {
            const address = server.address();
            if (address !== null && typeof address === "object") {
                ports.push(address.port);
            }
        }
        return ports;
    }

    #listen(address: ListenAddress): Promise<number> {
        const server = createServer(
            {
                maxHeaderSize: this.#options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
                headersTimeout: this.#options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
                requestTimeout: this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
                keepAliveTimeout: this.#options.keepAliveTimeoutMs ?? 5000,
                connectionsCheckingInterval: this.#options.connectionsCheckingIntervalMs ?? 1000,
            },
            (req, res) => this.#handleRequest(req, res),
        );
        server.on("clientError", (error: Error, socket: Duplex) => this.#handleClientError(error, socket));
        server.on("connection", (socket: Socket) => {
            socket.setNoDelay(true);
        });
        this.#servers.push(server);
        return new Promise<number>((resolve, reject) => {
            const onListenError = (error: Error): void => reject(error);
            server.once("error", onListenError);
            server.listen({port: address.port, host: address.host}, () => {
                server.off("error", onListenError);
                server.on("error", (error: Error) => this.#log.error("http listener failed", {error}));
                const bound = server.address() as AddressInfo;
                this.#log.info(`listening on ${bound.address}:${bound.port}`);
                resolve(bound.port);
            });
        });
    }

    #handleRequest(req: IncomingMessage, res: ServerResponse): void {
        const socket = req.socket;
        this.#busySockets.add(socket);
        res.on("finish", () => this.#busySockets.delete(socket));
        req.on("error", (error: Error) => this.#log.debug(`request error: ${error.message}`));
        res.on("error", (error: Error) => this.#log.debug(`response error: ${error.message}`));
        try {
            const body = this.#acceptBody(req, res);
            if (body === undefined) {
                return;
            }
            this.#route(req, res, body);
        } catch (error) {
            // A bug in a route, not bad input: answer 500 and keep serving.
            this.#log.error("http handler failed", {error, method: req.method, url: req.url});
            if (res.headersSent) {
                res.destroy();
            } else {
                sendJsonError(res, 500, "internal error");
            }
        }
    }

    /**
     * Discards the body as it arrives, keeping the first BODY_PREVIEW_BYTES for the capture; undefined
     * (after answering 413) when it is declared too large.
     */
    #acceptBody(req: IncomingMessage, res: ServerResponse): BodyTracker | undefined {
        const maxBodyBytes = this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
        const declared = Number(req.headers["content-length"] ?? 0);
        if (declared > maxBodyBytes) {
            this.#noteBadInput("body-too-large", req, `declared body of ${declared} bytes`);
            res.on("finish", () => req.socket.destroy());
            sendJsonError(res, 413, "request body too large", {maxBodyBytes}, [["Connection", "close"]]);
            return undefined;
        }
        const tracker: BodyTracker = {chunks: [], previewBytes: 0, totalBytes: 0};
        req.on("data", (chunk: Buffer) => {
            tracker.totalBytes += chunk.length;
            if (tracker.previewBytes < BODY_PREVIEW_BYTES) {
                const kept = chunk.subarray(0, BODY_PREVIEW_BYTES - tracker.previewBytes);
                tracker.chunks.push(Buffer.from(kept));
                tracker.previewBytes += kept.length;
            }
            if (tracker.totalBytes > maxBodyBytes) {
                this.#noteBadInput("body-too-large", req, `body above ${maxBodyBytes} bytes`);
                req.socket.destroy();
            }
        });
        return tracker;
    }

    #route(req: IncomingMessage, res: ServerResponse, body: BodyTracker): void {
        const route = parseRoute(req.method ?? "GET", req.url ?? "/");
        const firmwareHeader = req.headers["version"];
        const firmware = typeof firmwareHeader === "string" ? firmwareHeader : undefined;
        const hostHeader = req.headers.host;
        const cloud: BootstrapRequest = {
            method: route.method,
            path: route.path,
            query: route.query,
            firmware,
            remoteAddress: stripIpv4Mapped(req.socket.remoteAddress),
            localAddress: stripIpv4Mapped(req.socket.localAddress),
        };
        const sinkhole = handleSinkholeRequest(cloud, hostHeader);
        if (sinkhole !== undefined) {
            const {event} = sinkhole;
            this.#whenBodyRead(req, () => {
                this.#replyToCamera(
                    req,
                    res,
                    body,
                    {status: sinkhole.status, reason: sinkhole.status === 200 ? "" : "Not Found", body: sinkhole.body},
                    {kind: "sinkhole", unknown: "sinkhole", deviceId: event.deviceId, host: event.host, cloud},
                );
                this.#reportBootstrap(event);
            });
            return;
        }
        const bootstrap = handleBootstrapRequest(cloud, this.#options.bootstrap);
        if (bootstrap !== undefined) {
            if (bootstrap.status === 405) {
                this.#noteBadInput("bootstrap-method", req, `${route.method} ${route.path}`);
                this.#replyToCamera(
                    req,
                    res,
                    body,
                    {
                        status: 405,
                        reason: "Method Not Allowed",
                        body: bootstrap.body,
                        extraHeaders: [["Allow", "POST"]],
                    },
                    {
                        kind: "other",
                        unknown: "bad-method",
                        deviceId: new URLSearchParams(route.query).get("devicesCode") ?? undefined,
                        host: normalizeHost(hostHeader),
                        cloud,
                    },
                );
                return;
            }
            const {event} = bootstrap;
            // Answered at once, even before a body (the camera's POST has none, §3.1): "HTTP/1.1 200 "
            // with an empty reason phrase, as the real cloud's nginx sends it.
            this.#replyToCamera(
                req,
                res,
                body,
                {status: 200, reason: "", body: bootstrap.body},
                {
                    kind: event.kind,
                    unknown: event.kind === "unknown" ? "unknown-bootstrap" : undefined,
                    deviceId: event.deviceId,
                    host: normalizeHost(hostHeader),
                    cloud,
                },
            );
            this.#reportBootstrap(event);
            return;
        }
        for (const handler of this.#handlers) {
            if (handler.handle(req, res, route)) {
                return;
            }
        }
        if (firmware !== undefined) {
            // A camera (it sent `version`) asked for something we do not know: worth a line for new firmware.
            this.#noteBadInput(
                "camera-unknown-path",
                req,
                `${route.method} ${route.path}?${route.query} (${firmware})`,
            );
            this.#whenBodyRead(req, () => {
                this.#replyToCamera(
                    req,
                    res,
                    body,
                    {status: 404, reason: "Not Found", body: JSON.stringify({error: "not found", path: route.path})},
                    {
                        kind: "other",
                        unknown: "unknown-path",
                        deviceId: new URLSearchParams(route.query).get("devicesCode") ?? undefined,
                        host: normalizeHost(hostHeader),
                        cloud,
                    },
                );
            });
            return;
        }
        sendJsonError(res, 404, "not found", {path: route.path});
    }

    /** Runs `reply` at once when the request declares no body, else once the body is read. */
    #whenBodyRead(req: IncomingMessage, reply: () => void): void {
        const length = req.headers["content-length"];
        const hasBody =
            req.headers["transfer-encoding"] !== undefined || (length !== undefined && Number(length) !== 0);
        if (!hasBody || req.complete) {
            reply();
            return;
        }
        req.once("end", () => {
            try {
                reply();
            } catch (error) {
                // Outside #handleRequest's try: a bug here must not take the process down.
                this.#log.error("http handler failed", {error, method: req.method, url: req.url});
                req.socket.destroy();
            }
        });
    }

    /**
     * The one writer of replies to cameras: the exact head of buildCloudReplyHeaders (no Node
     * defaults: no automatic Date, Keep-Alive or Transfer-Encoding), then the body. Records the
     * request in `diagnostics` and hands the exchange to the capture tap when one is active.
     */
    #replyToCamera(
        req: IncomingMessage,
        res: ServerResponse,
        tracker: BodyTracker,
        reply: CameraReply,
        info: CameraRequestInfo,
    ): void {
        if (res.headersSent || res.writableEnded || res.destroyed) {
            return;
        }
        const body = Buffer.from(reply.body, "utf8");
        const headers = buildCloudReplyHeaders({
            bodyBytes: body.length, // UTF-8 bytes: 操作成功 is 12 bytes for 4 characters
            nowMs: this.#options.bootstrap.nowMs(),
            isKeepAlive: this.#options.cloudKeepAlive === true,
            extra: reply.extraHeaders,
        });
        res.sendDate = false;
        res.writeHead(reply.status, reply.reason, headers.flat());
        res.end(body);
        const {cloud} = info;
        this.diagnostics.noteRequest({
            kind: info.kind,
            unknown: info.unknown,
            method: cloud.method,
            host: info.host ?? null,
            path: cloud.path,
            query: cloud.query,
            firmware: cloud.firmware ?? null,
            deviceId: info.deviceId ?? null,
            remoteAddress: cloud.remoteAddress,
            status: reply.status,
        });
        const tap = this.#captureTap;
        if (tap?.isActive === true) {
            tap.http({
                deviceId: info.deviceId,
                remoteAddress: cloud.remoteAddress,
                method: cloud.method,
                url: req.url ?? "/",
                rawHeaders: req.rawHeaders,
                requestBody: tracker.totalBytes > 0 ? Buffer.concat(tracker.chunks) : undefined,
                requestBodyBytes: tracker.totalBytes,
                status: reply.status,
                responseHeaders: headers,
                responseBody: body,
            });
        }
    }

    #reportBootstrap(event: BootstrapEvent): void {
        if (event.kind === "sinkhole") {
            this.#log.info(`request for sinkholed host ${event.host ?? "?"}: ${event.path}`, {
                host: event.host ?? null,
                path: event.path,
                firmware: event.firmware ?? null,
                remoteAddress: event.remoteAddress,
            });
        } else if (event.kind === "unknown") {
            // issue 2 item 3: unknown firmware calls must be diagnosable
            this.#log.warn(`unknown bootstrap POST ${event.path} answered with generic success`, {
                path: event.path,
                query: event.query,
                firmware: event.firmware ?? null,
                remoteAddress: event.remoteAddress,
            });
        } else {
            this.#log.info(`bootstrap ${event.kind} from ${event.remoteAddress}`, {
                deviceId: event.deviceId ?? null,
                firmware: event.firmware ?? null,
            });
        }
        try {
            this.#options.onBootstrapEvent?.(event);
        } catch (error) {
            this.#log.error("bootstrap event listener failed", {error, kind: event.kind});
        }
    }

    #handleClientError(error: Error, socket: Duplex): void {
        const code = "code" in error && typeof error.code === "string" ? error.code : "unknown";
        if (code === "ECONNRESET" || code === "EPIPE" || !socket.writable || this.#busySockets.has(socket)) {
            socket.destroy();
            return;
        }
        const status = clientErrorStatus(code);
        const raw = "rawPacket" in error && Buffer.isBuffer(error.rawPacket) ? error.rawPacket : undefined;
        const suppressed = this.#badInput.hit(`client-error:${code}`);
        if (suppressed !== undefined) {
            this.#log.warn(`bad HTTP request (${code}): ${status}`, {
                message: error.message,
                raw: raw === undefined ? null : hexPreview(raw),
                suppressed,
                total: this.#badInput.total(`client-error:${code}`),
            });
        }
        const body = JSON.stringify({error: status === 408 ? "request timeout" : "bad request", code});
        socket.end(
            `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\n` +
                `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
    }

    #noteBadInput(kind: string, req: IncomingMessage, detail: string): void {
        const suppressed = this.#badInput.hit(kind);
        if (suppressed !== undefined) {
            this.#log.warn(`bad HTTP request from ${stripIpv4Mapped(req.socket.remoteAddress)}: ${detail}`, {
                kind,
                suppressed,
                total: this.#badInput.total(kind),
            });
        }
    }
}

const STATUS_TEXT = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"} as const;

function clientErrorStatus(code: string): keyof typeof STATUS_TEXT {
    if (code === "HPE_HEADER_OVERFLOW") {
        return 431;
    }
    if (code === "ERR_HTTP_REQUEST_TIMEOUT") {
        return 408;
    }
    return 400;
}

/** Splits `req.url` (origin-form, or absolute-form from a proxy) into path, segments and query. */
export function parseRoute(method: string, url: string): RouteRequest {
    let target = url;
    const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
    if (scheme !== null) {
        target = target.slice(scheme[0].length);
    }
    const hash = target.indexOf("#");
    if (hash >= 0) {
        target = target.slice(0, hash);
    }
    const mark = target.indexOf("?");
    let path = mark >= 0 ? target.slice(0, mark) : target;
    const query = mark >= 0 ? target.slice(mark + 1) : "";
    if (!path.startsWith("/")) {
        path = `/${path}`;
    }
    if (path.length > 1 && path.endsWith("/")) {
        path = path.slice(0, -1);
    }
    return {method, path, segments: path.slice(1).split("/"), query};
}
