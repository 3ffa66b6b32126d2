/**
 * The HTTP layer on 127.0.0.1 port 0: the camera's exact bootstrap request over a raw socket with a
 * strict reader (exactly Content-Length bytes), the viewer routes against a fake CameraDirectory
 * (MJPEG parsed part by part, stalled viewers, snapshot, WAV), limits and lifecycle.
 */
import {randomBytes} from "node:crypto";
import {connect, createServer as createNetServer, type Socket} from "node:net";
import {afterEach, describe, expect, it} from "vitest";
import type {BootstrapEvent, BootstrapOptions} from "../../src/http/bootstrapRoutes.js";
import {HttpServer, type HttpServerOptions} from "../../src/http/httpServer.js";
import {ViewerRoutes, type ViewerRoutesOptions} from "../../src/http/viewerRoutes.js";
import type {CameraDirectory, CameraView, SubscribeResult} from "../../src/model/camera.js";
import type {AudioCodec, JpegFrame, MediaConsumer} from "../../src/model/media.js";
import {encodeAlaw} from "../../src/protocol/g711.js";
import type {Logger, LogLevel, LogMessage, LogMeta} from "../../src/util/log.js";

// ---- test doubles ------------------------------------------------------------------------------

class FakeDirectory implements CameraDirectory {
    readonly views = new Map<string, CameraView>();
    readonly consumers = new Map<string, Set<MediaConsumer>>();
    readonly latest = new Map<string, JpegFrame>();
    readonly offline = new Set<string>();
    subscribeCalls = 0;
    #sequence = 0;

    add(id: string, overrides: Partial<CameraView> = {}): void {
        this.views.set(id, {
            id,
            address: "10.42.0.22:64365",
            firmware: "202212011602",
            online: true,
            streamState: "idle",
            fps: 0,
            lastFrameAtMs: null,
            lastSeenAtMs: null,
            baseInfo: null,
            consumers: 0,
            framesDelivered: 0,
            framesDropped: 0,
            ...overrides,
        });
    }

    list(): CameraView[] {
        return [...this.views.values()];
    }
    get(id: string): CameraView | undefined {
        return this.views.get(id);
    }
    latestFrame(id: string): JpegFrame | undefined {
        return this.latest.get(id);
    }
    subscribe(id: string, consumer: MediaConsumer): SubscribeResult {
        this.subscribeCalls += 1;
        if (!this.views.has(id)) {
            return {ok: false, reason: "unknown-camera"};
        }
        if (this.offline.has(id)) {
            return {ok: false, reason: "offline"};
        }
        const set = this.consumers.get(id) ?? new Set<MediaConsumer>();
        this.consumers.set(id, set);
        set.add(consumer);
        return {ok: true, subscription: {close: () => set.delete(consumer)}};
    }

    consumerCount(id: string): number {
        return this.consumers.get(id)?.size ?? 0;
    }

    pushFrame(id: string, data: Buffer, receivedAtMs = Date.now()): JpegFrame {
        this.#sequence += 1;
        const frame: JpegFrame = {cameraId: id, data, sequence: this.#sequence, receivedAtMs, receivedAtHr: 0};
        this.latest.set(id, frame);
        for (const consumer of [...(this.consumers.get(id) ?? [])]) {
            consumer.onFrame?.(frame);
        }
        return frame;
    }

    pushAudio(id: string, codec: AudioCodec, data: Buffer): void {
        for (const consumer of [...(this.consumers.get(id) ?? [])]) {
            consumer.onAudio?.({cameraId: id, codec, data, receivedAtMs: Date.now()});
        }
    }

    end(id: string, reason: string): void {
        for (const consumer of [...(this.consumers.get(id) ?? [])]) {
            consumer.onEnd?.(reason);
        }
    }
}

interface LogLine {
    readonly level: LogLevel;
    readonly message: string;
    readonly meta: LogMeta | undefined;
}

class RecordingLogger implements Logger {
    readonly lines: LogLine[];
    constructor(lines: LogLine[] = []) {
        this.lines = lines;
    }
    error(message: LogMessage, meta?: LogMeta): void {
        this.#add("error", message, meta);
    }
    warn(message: LogMessage, meta?: LogMeta): void {
        this.#add("warn", message, meta);
    }
    info(message: LogMessage, meta?: LogMeta): void {
        this.#add("info", message, meta);
    }
    debug(message: LogMessage, meta?: LogMeta): void {
        this.#add("debug", message, meta);
    }
    isLevelEnabled(): boolean {
        return true;
    }
    child(): Logger {
        return this;
    }
    #add(level: LogLevel, message: LogMessage, meta: LogMeta | undefined): void {
        this.lines.push({level, message: typeof message === "function" ? message() : message, meta});
    }
}

/** Buffered reader over a raw socket: reads exactly what the test asks for, never more. */
class ByteReader {
    readonly socket: Socket;
    #buffer = Buffer.alloc(0);
    #isEnded = false;
    #wake: (() => void) | undefined;

    constructor(socket: Socket) {
        this.socket = socket;
        socket.on("data", (chunk: Buffer) => {
            this.#buffer = Buffer.concat([this.#buffer, chunk]);
            this.#notify();
        });
        socket.on("end", () => {
            this.#isEnded = true;
            this.#notify();
        });
        socket.on("close", () => {
            this.#isEnded = true;
            this.#notify();
        });
        socket.on("error", () => undefined);
    }

    get buffered(): number {
        return this.#buffer.length;
    }
    get isEnded(): boolean {
        return this.#isEnded;
    }

    async readUntil(delimiter: string, maxBytes = 64 * 1024): Promise<Buffer> {
        for (;;) {
            const at = this.#buffer.indexOf(delimiter, 0, "latin1");
            if (at >= 0) {
                return this.#take(at + delimiter.length);
            }
            if (this.#buffer.length > maxBytes) {
                throw new Error(`no ${JSON.stringify(delimiter)} within ${maxBytes} bytes`);
            }
            await this.#more();
        }
    }

    async readExactly(length: number): Promise<Buffer> {
        while (this.#buffer.length < length) {
            await this.#more();
        }
        return this.#take(length);
    }

    async readToEnd(): Promise<Buffer> {
        while (!this.#isEnded) {
            await this.#more();
        }
        return this.#take(this.#buffer.length);
    }

    #take(length: number): Buffer {
        const out = this.#buffer.subarray(0, length);
        this.#buffer = this.#buffer.subarray(length);
        return out;
    }

    #more(): Promise<void> {
        if (this.#isEnded) {
            return Promise.reject(new Error(`connection ended with ${this.#buffer.length} unread bytes`));
        }
        return new Promise<void>((resolve) => {
            this.#wake = resolve;
        });
    }

    #notify(): void {
        const wake = this.#wake;
        this.#wake = undefined;
        wake?.();
    }
}

interface ResponseHead {
    readonly statusLine: string;
    readonly status: number;
    readonly headers: ReadonlyMap<string, string>;
    readonly raw: string;
}

/** Strict: CRLF line endings, no bytes before the status line, one blank line. */
async function readHead(reader: ByteReader): Promise<ResponseHead> {
    const raw = (await reader.readUntil("\r\n\r\n")).toString("latin1");
    const lines = raw.slice(0, -4).split("\r\n");
    const statusLine = lines[0] ?? "";
    const match = /^HTTP\/1\.1 (\d{3})( .*)?$/.exec(statusLine);
    if (match === null) {
        throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        expect(colon).toBeGreaterThan(0);
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    return {statusLine, status: Number(match[1]), headers, raw};
}

/** Head plus exactly Content-Length body bytes. */
async function readResponse(reader: ByteReader): Promise<{head: ResponseHead; body: Buffer}> {
    const head = await readHead(reader);
    const length = Number(head.headers.get("content-length"));
    expect(Number.isInteger(length)).toBe(true);
    return {head, body: await reader.readExactly(length)};
}

async function readPart(reader: ByteReader, boundary: string): Promise<{headers: Map<string, string>; body: Buffer}> {
    const delimiter = (await reader.readUntil("\r\n")).toString("latin1");
    expect(delimiter).toBe(`--${boundary}\r\n`);
    const headers = new Map<string, string>();
    for (;;) {
        const line = (await reader.readUntil("\r\n")).toString("latin1").slice(0, -2);
        if (line === "") {
            break;
        }
        const colon = line.indexOf(":");
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const body = await reader.readExactly(Number(headers.get("content-length")));
    expect((await reader.readExactly(2)).toString("latin1")).toBe("\r\n");
    return {headers, body};
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function jpeg(counter: number, size = 2000): Buffer {
    const data = randomBytes(size);
    data[0] = 0xff;
    data[1] = 0xd8;
    data.writeUInt32BE(counter, 2);
    data[size - 2] = 0xff;
    data[size - 1] = 0xd9;
    return data;
}

// ---- harness -----------------------------------------------------------------------------------

const CAMERA = "0800c00128F8";
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

interface Harness {
    readonly server: HttpServer;
    readonly viewer: ViewerRoutes;
    readonly directory: FakeDirectory;
    readonly port: number;
    readonly events: BootstrapEvent[];
    readonly log: RecordingLogger;
    open(request: string): ByteReader;
    get(path: string, extra?: string): ByteReader;
}

async function startHarness(
    options: {
        bootstrap?: Partial<BootstrapOptions>;
        server?: Partial<HttpServerOptions>;
        viewer?: Partial<ViewerRoutesOptions>;
        ports?: number;
    } = {},
): Promise<Harness & {ports: number[]}> {
    const directory = new FakeDirectory();
    directory.add(CAMERA);
    const events: BootstrapEvent[] = [];
    const log = new RecordingLogger();
    let issued = 0;
    const bootstrap: BootstrapOptions = {
        tcpPort: 6123,
        issueDeviceId: () => {
            issued += 1;
            return `0800c0${String(issued).padStart(6, "0")}`;
        },
        passwordFor: () => "91edf41f",
        nowMs: () => 1_676_097_689_000,
        ...options.bootstrap,
    };
    const viewer = new ViewerRoutes(directory, {httpPort: 8099, ...options.viewer}, log);
    const server = new HttpServer(
        {bootstrap, onBootstrapEvent: (event) => events.push(event), ...options.server},
        [viewer],
        log,
    );
    const addresses = Array.from({length: options.ports ?? 1}, () => ({port: 0, host: "127.0.0.1"}));
    const ports = await server.start(addresses);
    cleanups.push(() => server.stop());
    const port = ports[0] ?? 0;
    const open = (request: string): ByteReader => {
        const socket = connect(port, "127.0.0.1");
        socket.write(request);
        cleanups.push(() => {
            socket.destroy();
        });
        return new ByteReader(socket);
    };
    return {
        server,
        viewer,
        directory,
        port,
        ports,
        events,
        log,
        open,
        get: (path, extra = "") => open(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}\r\n`),
    };
}

async function getJson(port: number, path: string, init: RequestInit = {}): Promise<{status: number; body: unknown}> {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    return {status: response.status, body: await response.json()};
}

async function openMjpeg(harness: Harness, path = `/api/cameras/${CAMERA}/stream.mjpeg`) {
    const before = harness.directory.consumerCount(CAMERA);
    const reader = harness.get(path);
    const head = await readHead(reader);
    expect(head.status).toBe(200);
    const boundary = /boundary=(\S+)/.exec(head.headers.get("content-type") ?? "")?.[1] ?? "";
    expect(head.headers.get("content-type")).toBe(`multipart/x-mixed-replace; boundary=${boundary}`);
    await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(before + 1);
    return {reader, head, boundary};
}

// ---- bootstrap -----------------------------------------------------------------------------------

/** The camera's request from the capture, 154 bytes: no body, no Content-Length (protocol-notes.md §3.1). */
const CAMERA_REQUEST =
    "POST /app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8&random=OPQRST&token=2d8c8b52f1 HTTP/1.1\r\n" +
    "Host: v720.naxclow.com\r\nversion: 202212011602\r\n\r\n";

describe("bootstrap over a raw socket", () => {
    it("answers the camera's bodiless POST at once, byte-exact, with the UTF-8 Content-Length", async () => {
        expect(Buffer.byteLength(CAMERA_REQUEST)).toBe(154);
        const harness = await startHarness();
        const reader = harness.open(CAMERA_REQUEST); // socket stays open: nothing tells the server the body is done
        const {head, body} = await withTimeout(readResponse(reader), 2000, "bootstrap reply");
        expect(head.statusLine).toBe("HTTP/1.1 200 ");
        expect(head.raw.startsWith("HTTP/1.1 200 \r\n")).toBe(true);
        expect(head.headers.get("content-type")).toBe("application/json");
        expect(head.headers.get("server")).toBe("nginx/1.14.0 (Ubuntu)");
        const expected =
            '{"code":200,"message":"操作成功","data":{"tcpPort":6123,"uid":"0800c00128F8","isBind":"8",' +
            '"domain":"v720.naxclow.com","updateUrl":null,"host":"127.0.0.1","currTime":"1676097689",' +
            '"pwd":"91edf41f","version":null}}';
        expect(body.toString("utf8")).toBe(expected);
        expect(head.headers.get("content-length")).toBe(String(expected.length + 8));
        expect(body[0]).toBe(0x7b); // no bytes before "{"
        // Nothing follows the body.
        reader.socket.end();
        expect((await reader.readToEnd()).length).toBe(0);
    });

    it("reports firmware, device id and peer of each request", async () => {
        const harness = await startHarness();
        await readResponse(harness.open(CAMERA_REQUEST));
        expect(harness.events).toStrictEqual([
            {
                kind: "getA9ConfCheck",
                deviceId: "0800c00128F8",
                firmware: "202212011602",
                remoteAddress: "127.0.0.1",
                path: "/app/api/ApiServer/getA9ConfCheck",
                query: "devicesCode=0800c00128F8&random=OPQRST&token=2d8c8b52f1",
            },
        ]);
    });

    it("sends advertiseHost as host when configured", async () => {
        const harness = await startHarness({bootstrap: {advertiseHost: "192.168.1.5", tcpPort: 7000}});
        const {body} = await readResponse(harness.open(CAMERA_REQUEST));
        expect(body.toString("utf8")).toContain('"tcpPort":7000,');
        expect(body.toString("utf8")).toContain('"host":"192.168.1.5"');
    });

    it.each([
        {
            path: "/app/api/ApiSysDevicesBatch/registerDevices?batch=A9_X4_V12&random=DEFGHI&token=547d4ef98b",
            body: '{"code":200,"message":"操作成功","data":"0800c0000001"}',
        },
        {
            path: "/app/api/ApiSysDevicesBatch/confirm?devicesCode=0800c0020ADC&random=NOPQRS&token=025d085049",
            body: '{"code":200,"message":"操作成功","data":null}',
        },
        {
            path: "/app/api/ApiSysDevices/getDevInfo?devicesCode=0800c0020ADC",
            body:
                '{"code":200,"message":"操作成功","data":{"userInfo_state":1,"userInfo_userId":" ","ota_url":null,' +
                '"uid":"0800c0020ADC","host":"127.0.0.1","tcpPort":6123,"domain":"v720.naxclow.com","pwd":"91edf41f",' +
                '"isBind":"8","currTime":"1676097689","updateUrl":null,"version":null}}',
        },
        {
            path: "/app/api/ApiSysDevices/a9bindingAppDevice",
            body: '{"code":200,"message":"OK","data":null}',
        },
    ])("answers $path", async ({path, body}) => {
        const harness = await startHarness();
        const reader = harness.open(`POST ${path} HTTP/1.1\r\nHost: v720.naxclow.com\r\nversion: 202212011602\r\n\r\n`);
        const response = await withTimeout(readResponse(reader), 2000, path);
        expect(response.head.statusLine).toBe("HTTP/1.1 200 ");
        expect(response.body.toString("utf8")).toBe(body);
        expect(Number(response.head.headers.get("content-length"))).toBe(Buffer.byteLength(body));
    });

    it("answers an unknown POST under /app/ with generic success, an event and a warning", async () => {
        const harness = await startHarness();
        const reader = harness.open(
            "POST /app/api/NewApi/doThing?devicesCode=5c00200204AB&x=1 HTTP/1.1\r\nHost: v720.naxclow.com\r\n" +
                "version: 202509111709\r\n\r\n",
        );
        const {body} = await readResponse(reader);
        expect(body.toString("utf8")).toBe('{"code":200,"message":"OK","data":null}');
        expect(harness.events).toStrictEqual([
            {
                kind: "unknown",
                deviceId: "5c00200204AB",
                firmware: "202509111709",
                remoteAddress: "127.0.0.1",
                path: "/app/api/NewApi/doThing",
                query: "devicesCode=5c00200204AB&x=1",
            },
        ]);
        const warning = harness.log.lines.find((line) => line.level === "warn");
        expect(warning?.meta).toMatchObject({
            path: "/app/api/NewApi/doThing",
            query: "devicesCode=5c00200204AB&x=1",
            firmware: "202509111709",
        });
    });

    it("serves several bootstrap requests on one keep-alive connection when cloudKeepAlive is set", async () => {
        const harness = await startHarness({server: {cloudKeepAlive: true}});
        const reader = harness.open(CAMERA_REQUEST + CAMERA_REQUEST);
        const first = await readResponse(reader);
        const second = await readResponse(reader);
        expect(second.body.equals(first.body)).toBe(true);
    });

    it("keeps answering when the event listener throws", async () => {
        const harness = await startHarness({
            server: {
                onBootstrapEvent: () => {
                    throw new Error("listener bug");
                },
            },
        });
        const first = await readResponse(harness.open(CAMERA_REQUEST));
        expect(first.head.status).toBe(200);
        expect(harness.log.lines.some((line) => line.level === "error")).toBe(true);
        expect((await readResponse(harness.open(CAMERA_REQUEST))).head.status).toBe(200);
    });

    it("answers 405 JSON to a GET under /app/", async () => {
        const harness = await startHarness();
        const {head, body} = await readResponse(harness.get("/app/api/ApiServer/getA9ConfCheck"));
        expect(head.status).toBe(405);
        expect(head.headers.get("allow")).toBe("POST");
        expect(JSON.parse(body.toString("utf8"))).toMatchObject({error: "method not allowed"});
        expect(harness.events).toStrictEqual([]);
    });
});

// ---- limits, errors, lifecycle -----------------------------------------------------------------

describe("limits and errors", () => {
    it("answers 404 JSON for an unknown path", async () => {
        const harness = await startHarness();
        expect(await getJson(harness.port, "/nope?x=1")).toStrictEqual({
            status: 404,
            body: {error: "not found", path: "/nope"},
        });
    });

    it("logs a warning when a camera (version header) asks for an unknown path", async () => {
        const harness = await startHarness();
        const reader = harness.open(
            "POST /newApi/x?a=1 HTTP/1.1\r\nHost: v720.naxclow.com\r\nversion: 202411201737\r\n\r\n",
        );
        expect((await readResponse(reader)).head.status).toBe(404);
        const warning = harness.log.lines.find((line) => line.level === "warn");
        expect(warning?.message).toContain("POST /newApi/x?a=1 (202411201737)");
    });

    it("answers 431 JSON to an oversized head", async () => {
        const harness = await startHarness({server: {maxHeaderBytes: 4096}});
        const reader = harness.open(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(8000)}\r\n\r\n`);
        const {head, body} = await readResponse(reader);
        expect(head.status).toBe(431);
        expect(JSON.parse(body.toString("utf8"))).toMatchObject({error: "bad request"});
    });

    it("answers 400 JSON to garbage", async () => {
        const harness = await startHarness();
        const {head, body} = await readResponse(harness.open("\x00\x01garbage\r\n\r\n"));
        expect(head.status).toBe(400);
        expect(JSON.parse(body.toString("utf8"))).toMatchObject({error: "bad request"});
        expect(harness.log.lines.some((line) => line.level === "warn" && line.meta?.["raw"] !== undefined)).toBe(true);
    });

    it("answers 413 to a declared body above the cap and closes", async () => {
        const harness = await startHarness({server: {maxBodyBytes: 1024}});
        const reader = harness.open(
            "POST /app/api/ApiServer/getA9ConfCheck HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
        );
        const {head} = await readResponse(reader);
        expect(head.status).toBe(413);
        await reader.readToEnd();
        expect(harness.events).toStrictEqual([]);
    });

    it("answers a bootstrap POST with a small body at once and discards the body", async () => {
        const harness = await startHarness({server: {cloudKeepAlive: true}});
        const reader = harness.open(
            "POST /app/api/ApiSysDevicesBatch/confirm HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
                CAMERA_REQUEST,
        );
        expect((await readResponse(reader)).body.toString("utf8")).toContain('"data":null');
        expect((await readResponse(reader)).body.toString("utf8")).toContain('"tcpPort":6123');
    });

    it("closes a connection whose chunked body grows above the cap", async () => {
        const harness = await startHarness({server: {maxBodyBytes: 1024}});
        const reader = harness.open(
            "POST /app/api/ApiSysDevicesBatch/confirm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        expect((await readResponse(reader)).head.status).toBe(200); // answered before the body
        const chunk = `1000\r\n${"x".repeat(0x1000)}\r\n`;
        for (let index = 0; index < 8 && !reader.isEnded; index += 1) {
            reader.socket.write(chunk);
        }
        await reader.readToEnd();
        expect(reader.isEnded).toBe(true);
    });

    it("answers 408 when a head does not arrive in time", async () => {
        const harness = await startHarness({
            server: {headersTimeoutMs: 150, requestTimeoutMs: 300, connectionsCheckingIntervalMs: 25},
        });
        const reader = harness.open("GET /healthz HTTP/1.1\r\nHost: x\r\n"); // never finished
        const {head} = await withTimeout(readResponse(reader), 5000, "408");
        expect(head.status).toBe(408);
    });

    it("rejects start() with the original EADDRINUSE error and closes what it opened", async () => {
        const blocker = createNetServer();
        blocker.on("error", () => undefined);
        await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
        cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
        const address = blocker.address();
        const busyPort = typeof address === "object" && address !== null ? address.port : 0;
        const server = new HttpServer(
            {bootstrap: {tcpPort: 1, issueDeviceId: () => "x", passwordFor: () => "x", nowMs: Date.now}},
            [],
            new RecordingLogger(),
        );
        const failure = server.start([
            {port: 0, host: "127.0.0.1"},
            {port: busyPort, host: "127.0.0.1"},
        ]);
        await expect(failure).rejects.toMatchObject({code: "EADDRINUSE"});
        expect(server.ports()).toStrictEqual([]);
    });

    it("serves bootstrap and viewer routes on every port it listens on", async () => {
        const harness = await startHarness({ports: 2});
        expect(harness.ports).toHaveLength(2);
        for (const port of harness.ports) {
            expect(await getJson(port, "/healthz")).toStrictEqual({status: 200, body: {status: "ok"}});
            const socket = connect(port, "127.0.0.1");
            cleanups.push(() => {
                socket.destroy();
            });
            socket.write(CAMERA_REQUEST);
            expect((await readResponse(new ByteReader(socket))).head.status).toBe(200);
        }
    });

    it("does not cut a stream that outlives requestTimeout", async () => {
        const harness = await startHarness({
            server: {headersTimeoutMs: 100, requestTimeoutMs: 150, connectionsCheckingIntervalMs: 20},
        });
        const {reader, boundary} = await openMjpeg(harness);
        const startedAt = Date.now();
        let count = 0;
        while (Date.now() - startedAt < 600) {
            const frame = jpeg(count);
            harness.directory.pushFrame(CAMERA, frame);
            expect((await readPart(reader, boundary)).body.equals(frame)).toBe(true);
            count += 1;
            // Elapsed time is the point of this test, not synchronisation.
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(count).toBeGreaterThan(5);
        expect(reader.isEnded).toBe(false);
    });

    it("stop() ends open streams and releases their subscriptions", async () => {
        const harness = await startHarness();
        const {reader} = await openMjpeg(harness);
        const audio = harness.get(`/api/cameras/${CAMERA}/audio.wav`);
        await readHead(audio);
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(2);
        await harness.server.stop();
        await reader.readToEnd();
        await audio.readToEnd();
        expect(harness.directory.consumerCount(CAMERA)).toBe(0);
        expect(harness.viewer.stats().mjpegViewers).toBe(0);
    });
});

// ---- viewer API ----------------------------------------------------------------------------------

describe("camera JSON", () => {
    it("lists cameras with camelCase fields and absolute URLs from the Host header", async () => {
        const harness = await startHarness();
        harness.directory.add("0800c0020ADC", {
            address: null,
            online: false,
            streamState: "streaming",
            lastSeenAtMs: Date.UTC(2024, 0, 1),
        });
        const {status, body} = await getJson(harness.port, "/api/cameras");
        expect(status).toBe(200);
        const base = `http://127.0.0.1:${harness.port}/api/cameras/0800c0020ADC`;
        expect((body as unknown[])[1]).toStrictEqual({
            id: "0800c0020ADC",
            address: null,
            firmware: "202212011602",
            family: "classic",
            model: "A9-4",
            online: false,
            tcpOnline: false,
            mqttOnline: null,
            wake: null,
            wakeState: null,
            lastWakeAt: null,
            lastWakeTemplate: null,
            errStatus: null,
            streaming: true,
            streamState: "streaming",
            fps: 0,
            lastFrameAt: null,
            lastSeenAt: "2024-01-01T00:00:00.000Z",
            baseInfo: null,
            consumers: 0,
            framesDelivered: 0,
            framesDropped: 0,
            urls: {
                mjpeg: `${base}/stream.mjpeg`,
                snapshot: `${base}/snapshot.jpg`,
                audio: `${base}/audio.wav`,
                rtsp: null,
                hls: null,
            },
        });
    });

    it("builds URLs from advertiseHost and lists rtsp when configured", async () => {
        const harness = await startHarness({viewer: {advertiseHost: "cams.lan", httpPort: 8099, rtspPort: 8554}});
        const {body} = await getJson(harness.port, `/api/cameras/${CAMERA}?ignored=1`);
        expect(body).toMatchObject({
            id: CAMERA,
            urls: {
                mjpeg: `http://cams.lan:8099/api/cameras/${CAMERA}/stream.mjpeg`,
                rtsp: `rtsp://cams.lan:8554/${CAMERA}`,
            },
        });
    });

    it.each([
        `/api/cameras/000000000000`,
        `/api/cameras/000000000000/stream.mjpeg`,
        `/api/cameras/000000000000/snapshot.jpg`,
        `/api/cameras/000000000000/audio.wav`,
        `/dev/000000000000/live`,
        `/dev/000000000000/snapshot`,
        `/dev/000000000000/audio`,
    ])("answers 404 JSON for an unknown camera on %s", async (path) => {
        const harness = await startHarness();
        expect(await getJson(harness.port, path)).toStrictEqual({
            status: 404,
            body: {error: "unknown camera", camera: "000000000000"},
        });
        expect(harness.directory.consumerCount("000000000000")).toBe(0);
    });

    it("answers 404 for an unknown sub-route and 405 for HEAD and POST", async () => {
        const harness = await startHarness();
        expect((await getJson(harness.port, `/api/cameras/${CAMERA}/nope`)).status).toBe(404);
        const post = await getJson(harness.port, "/api/cameras", {method: "POST"});
        expect(post).toStrictEqual({status: 405, body: {error: "method not allowed", method: "POST", allow: "GET"}});
        const head = await fetch(`http://127.0.0.1:${harness.port}/api/cameras/${CAMERA}/stream.mjpeg`, {
            method: "HEAD",
        });
        expect(head.status).toBe(405);
        expect(head.headers.get("allow")).toBe("GET");
        expect(harness.directory.subscribeCalls).toBe(0);
    });

    it("answers /dev/list like the Python fake server", async () => {
        const harness = await startHarness();
        harness.directory.add("0800c0020ADC", {address: null});
        expect(await getJson(harness.port, "/dev/list")).toStrictEqual({
            status: 200,
            body: [{uid: CAMERA, host: "10.42.0.22", port: 64365}],
        });
    });

    it("answers /healthz", async () => {
        const harness = await startHarness();
        expect(await getJson(harness.port, "/healthz")).toStrictEqual({status: 200, body: {status: "ok"}});
    });
});

describe("MJPEG", () => {
    it("sends every frame byte-identical in its own part with a correct Content-Length", async () => {
        const harness = await startHarness();
        const {reader, head, boundary} = await openMjpeg(harness);
        expect(head.headers.get("cache-control")).toContain("no-cache");
        expect(head.headers.has("content-length")).toBe(false);
        expect(head.headers.has("transfer-encoding")).toBe(false);
        for (let index = 0; index < 20; index += 1) {
            const frame = jpeg(index, 500 + index * 997);
            harness.directory.pushFrame(CAMERA, frame);
            const part = await readPart(reader, boundary);
            expect(part.headers.get("content-type")).toBe("image/jpeg");
            expect(part.headers.get("content-length")).toBe(String(frame.length));
            expect(part.body.equals(frame)).toBe(true);
        }
    });

    it("feeds every viewer from one camera stream and unsubscribes a viewer that leaves", async () => {
        const harness = await startHarness();
        const first = await openMjpeg(harness);
        const second = await openMjpeg(harness, `/dev/${CAMERA}/live`);
        const frame = jpeg(1);
        harness.directory.pushFrame(CAMERA, frame);
        expect((await readPart(first.reader, first.boundary)).body.equals(frame)).toBe(true);
        expect((await readPart(second.reader, second.boundary)).body.equals(frame)).toBe(true);
        first.reader.socket.destroy();
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        const next = jpeg(2);
        harness.directory.pushFrame(CAMERA, next);
        expect((await readPart(second.reader, second.boundary)).body.equals(next)).toBe(true);
    });

    it("a stalled viewer drops frames, stays bounded and does not delay another viewer", async () => {
        const maxBufferedVideoBytes = 512 * 1024;
        const harness = await startHarness({viewer: {maxBufferedVideoBytes}});
        const stalled = harness.get(`/api/cameras/${CAMERA}/stream.mjpeg`);
        stalled.socket.pause(); // never reads: the kernel buffers fill, then the server's
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        const fast = await openMjpeg(harness);
        const frameBytes = 256 * 1024;
        const frames = 100; // 25 MiB: more than loopback socket buffers absorb
        for (let index = 0; index < frames; index += 1) {
            const frame = jpeg(index, frameBytes);
            harness.directory.pushFrame(CAMERA, frame);
            const part = await withTimeout(readPart(fast.reader, fast.boundary), 5000, `fast viewer frame ${index}`);
            expect(part.body.equals(frame)).toBe(true);
            expect(harness.viewer.stats().bufferedBytes).toBeLessThanOrEqual(maxBufferedVideoBytes + frameBytes);
        }
        const stats = harness.viewer.stats();
        expect(stats.framesDropped).toBeGreaterThan(0);
        expect(stats.framesSent).toBe(frames * 2 - stats.framesDropped);
        expect(stats.peakBufferedBytes).toBeLessThanOrEqual(maxBufferedVideoBytes);
        expect(stats.mjpegViewers).toBe(2);
    });

    it("answers 503 JSON when the camera is offline", async () => {
        const harness = await startHarness();
        harness.directory.offline.add(CAMERA);
        expect(await getJson(harness.port, `/api/cameras/${CAMERA}/stream.mjpeg`)).toStrictEqual({
            status: 503,
            body: {error: "camera offline", camera: CAMERA},
        });
    });

    it("ends the response when the camera goes away", async () => {
        const harness = await startHarness();
        const {reader} = await openMjpeg(harness);
        harness.directory.end(CAMERA, "offline");
        await reader.readToEnd();
        expect(harness.directory.consumerCount(CAMERA)).toBe(0);
    });
});

describe("snapshot", () => {
    it("answers from a fresh latest frame without waking the stream", async () => {
        const harness = await startHarness();
        const frame = harness.directory.pushFrame(CAMERA, jpeg(7));
        const {head, body} = await readResponse(harness.get(`/api/cameras/${CAMERA}/snapshot.jpg`));
        expect(head.status).toBe(200);
        expect(head.headers.get("content-type")).toBe("image/jpeg");
        expect(body.equals(frame.data)).toBe(true);
        expect(harness.directory.subscribeCalls).toBe(0);
    });

    it("wakes the stream when the latest frame is stale and answers with the next frame", async () => {
        const harness = await startHarness({viewer: {snapshotMaxAgeMs: 2000}});
        harness.directory.pushFrame(CAMERA, jpeg(1), Date.now() - 5000);
        const reader = harness.get(`/dev/${CAMERA}/snapshot`);
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        expect(harness.viewer.stats().pendingSnapshots).toBe(1);
        const fresh = harness.directory.pushFrame(CAMERA, jpeg(2));
        const {head, body} = await readResponse(reader);
        expect(head.status).toBe(200);
        expect(body.equals(fresh.data)).toBe(true);
        expect(harness.directory.consumerCount(CAMERA)).toBe(0);
        expect(harness.viewer.stats().pendingSnapshots).toBe(0);
    });

    it("answers 504 JSON when no frame arrives in time and unsubscribes", async () => {
        const harness = await startHarness({viewer: {snapshotTimeoutMs: 150}});
        const reader = harness.get(`/api/cameras/${CAMERA}/snapshot.jpg`);
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        const {head, body} = await readResponse(reader);
        expect(head.status).toBe(504);
        expect(JSON.parse(body.toString("utf8"))).toStrictEqual({
            error: "camera sent no frame in time",
            camera: CAMERA,
            timeoutMs: 150,
        });
        expect(harness.directory.consumerCount(CAMERA)).toBe(0);
    });

    it("answers a waiting snapshot with 503 when the server stops", async () => {
        const harness = await startHarness();
        const reader = harness.get(`/api/cameras/${CAMERA}/snapshot.jpg`);
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        const stopped = harness.server.stop();
        const {head, body} = await readResponse(reader);
        await stopped;
        expect(head.status).toBe(503);
        expect(JSON.parse(body.toString("utf8"))).toMatchObject({error: "server stopping"});
        expect(harness.directory.consumerCount(CAMERA)).toBe(0);
    });

    it("unsubscribes when the client gives up waiting", async () => {
        const harness = await startHarness();
        const reader = harness.get(`/api/cameras/${CAMERA}/snapshot.jpg`);
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        reader.socket.destroy();
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(0);
        expect(harness.viewer.stats().pendingSnapshots).toBe(0);
    });
});

describe("audio.wav", () => {
    it("streams an A-law WAV header then the A-law bytes", async () => {
        const harness = await startHarness();
        const reader = harness.get(`/api/cameras/${CAMERA}/audio.wav`);
        const head = await readHead(reader);
        expect(head.status).toBe(200);
        expect(head.headers.get("content-type")).toBe("audio/wav");
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        const header = await reader.readExactly(44);
        expect(header.toString("latin1", 0, 4)).toBe("RIFF");
        expect(header.toString("latin1", 8, 16)).toBe("WAVEfmt ");
        expect(header.readUInt16LE(20)).toBe(6); // A-law
        expect(header.readUInt16LE(22)).toBe(1); // mono
        expect(header.readUInt32LE(24)).toBe(8000);
        expect(header.readUInt16LE(34)).toBe(8);
        expect(header.toString("latin1", 36, 40)).toBe("data");
        const chunks = [randomBytes(320), randomBytes(512), randomBytes(7)];
        for (const chunk of chunks) {
            harness.directory.pushAudio(CAMERA, "alaw", chunk);
            harness.directory.pushAudio(CAMERA, "pcm_s16le", randomBytes(640)); // another codec: ignored
        }
        const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        expect((await reader.readExactly(total)).equals(Buffer.concat(chunks))).toBe(true);
        expect(reader.buffered).toBe(0);
    });

    it("encodes PCM to A-law for a camera that sends only PCM (alias /dev/:id/audio)", async () => {
        const harness = await startHarness();
        const reader = harness.get(`/dev/${CAMERA}/audio`);
        await readHead(reader);
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        await reader.readExactly(44);
        const samples = Int16Array.from([0, 1000, -1000, 32767, -32768, 12345]);
        const pcm = Buffer.alloc(samples.length * 2);
        for (const [index, sample] of samples.entries()) {
            pcm.writeInt16LE(sample, index * 2);
        }
        harness.directory.pushAudio(CAMERA, "pcm_s16le", pcm);
        expect((await reader.readExactly(samples.length)).equals(encodeAlaw(samples))).toBe(true);
    });

    it("drops audio for a stalled listener instead of buffering it", async () => {
        const maxBufferedAudioBytes = 16 * 1024;
        const harness = await startHarness({viewer: {maxBufferedAudioBytes}});
        const stalled = harness.get(`/api/cameras/${CAMERA}/audio.wav`);
        stalled.socket.pause();
        await expect.poll(() => harness.directory.consumerCount(CAMERA)).toBe(1);
        for (let index = 0; index < 2000; index += 1) {
            harness.directory.pushAudio(CAMERA, "alaw", Buffer.alloc(8 * 1024, index));
            expect(harness.viewer.stats().bufferedBytes).toBeLessThanOrEqual(maxBufferedAudioBytes + 8 * 1024);
        }
        expect(harness.viewer.stats().framesDropped).toBeGreaterThan(0);
    });
});
