/**
 * Issue 6 item 1 over real sockets: every reply to a camera compared byte for byte with the expected
 * bytes (status line, headers in order, Date from the injected clock, body), a strict HTTP client
 * (exactly Content-Length bytes, one blank line, nothing before `{`, nothing after the body) run over
 * every reply the server can give, the sinkholed hosts of newer firmware, GET /api/diagnostics and
 * the HTTP side of the capture tap.
 */
import {connect} from "node:net";
import {afterEach, describe, expect, it} from "vitest";
import type {BootstrapEvent, BootstrapOptions} from "../../src/http/bootstrapRoutes.js";
import {DiagnosticsRoutes} from "../../src/http/diagnosticsRoutes.js";
import {HttpServer, type HttpServerOptions} from "../../src/http/httpServer.js";
import {ViewerRoutes} from "../../src/http/viewerRoutes.js";
import type {CameraDirectory, CameraView} from "../../src/model/camera.js";
import type {CaptureTap, HttpCaptureExchange} from "../../src/model/captureTap.js";
import {silentLogger} from "../../src/util/log.js";

/** 2023-02-11T06:41:29Z, the capture's currTime (protocol-notes.md §3.4). */
const NOW_MS = 1_676_097_689_000;
const DATE = "Sat, 11 Feb 2023 06:41:29 GMT";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

class OneCameraDirectory implements CameraDirectory {
    readonly view: CameraView = {
        id: "0800c00128F8",
        address: "10.42.0.22:64365",
        firmware: "202212011602",
        online: true,
        streamState: "idle",
        fps: 0,
        lastFrameAtMs: null,
        lastSeenAtMs: null,
        baseInfo: {code: 4, wifiName: "Café-Wohnzimmer 📶"},
        consumers: 0,
        framesDelivered: 0,
        framesDropped: 0,
    };
    list(): CameraView[] {
        return [this.view];
    }
    get(id: string): CameraView | undefined {
        return id === this.view.id ? this.view : undefined;
    }
    subscribe() {
        return {ok: false as const, reason: "offline" as const};
    }
    latestFrame() {
        return undefined;
    }
}

class RecordingTap implements CaptureTap {
    isActive = true;
    readonly exchanges: HttpCaptureExchange[] = [];
    isCapturing(): boolean {
        return true;
    }
    packet(): void {
        throw new Error("the HTTP server does not send packets");
    }
    http(exchange: HttpCaptureExchange): void {
        this.exchanges.push(exchange);
    }
    mqtt(): void {
        throw new Error("the HTTP server does not send MQTT");
    }
}

interface Harness {
    readonly server: HttpServer;
    readonly port: number;
    readonly events: BootstrapEvent[];
}

async function startHarness(
    options: {bootstrap?: Partial<BootstrapOptions>; server?: Partial<HttpServerOptions>} = {},
): Promise<Harness> {
    const events: BootstrapEvent[] = [];
    const bootstrap: BootstrapOptions = {
        tcpPort: 6123,
        issueDeviceId: () => "0800c0000001",
        passwordFor: () => "91edf41f",
        nowMs: () => NOW_MS,
        ...options.bootstrap,
    };
    const server = new HttpServer(
        {bootstrap, onBootstrapEvent: (event) => events.push(event), ...options.server},
        [new ViewerRoutes(new OneCameraDirectory(), {httpPort: 8099}, silentLogger)],
        silentLogger,
    );
    server.addRouteHandler(new DiagnosticsRoutes(server.diagnostics));
    const [port = 0] = await server.start([{port: 0, host: "127.0.0.1"}]);
    cleanups.push(() => server.stop());
    return {server, port, events};
}

/** Sends raw request bytes and returns every byte until the server closes (with a deadline). */
function exchange(port: number, request: string | Buffer, timeoutMs = 3000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        const chunks: Buffer[] = [];
        const timer = setTimeout(() => {
            socket.destroy();
            reject(
                new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString())}`),
            );
        }, timeoutMs);
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.on("error", (error) => {
            clearTimeout(timer);
            reject(error);
        });
        socket.on("close", () => {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks));
        });
        socket.write(request);
    });
}

interface StrictReply {
    readonly statusLine: string;
    readonly status: number;
    readonly headers: readonly [string, string][];
    readonly body: Buffer;
}

/**
 * A strict HTTP/1.1 reader, as strict firmware might be: the status line is `HTTP/1.1 NNN reason`
 * (reason possibly empty), header lines are `Name: value`, one blank line, a single Content-Length
 * and no Transfer-Encoding, the body is exactly Content-Length bytes, starts with `{` when not empty
 * (`[` for the API's camera list; the byte-exact tests pin `{` for every reply to a camera)
 * and parses as JSON, and no byte follows it.
 */
function readStrict(raw: Buffer): StrictReply {
    const end = raw.indexOf("\r\n\r\n");
    if (end < 0) {
        throw new Error("no blank line");
    }
    const lines = raw.toString("latin1", 0, end).split("\r\n");
    const statusLine = lines[0] ?? "";
    const match = /^HTTP\/1\.1 (\d{3}) [^\r\n]*$/.exec(statusLine);
    if (match === null) {
        throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    }
    const headers: [string, string][] = [];
    for (const line of lines.slice(1)) {
        const header = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): (.*)$/.exec(line);
        if (header === null) {
            throw new Error(`bad header line ${JSON.stringify(line)}`);
        }
        headers.push([header[1] ?? "", header[2] ?? ""]);
    }
    const lengths = headers.filter(([name]) => name.toLowerCase() === "content-length");
    if (lengths.length !== 1) {
        throw new Error(`expected one Content-Length, got ${lengths.length}`);
    }
    if (headers.some(([name]) => name.toLowerCase() === "transfer-encoding")) {
        throw new Error("Transfer-Encoding is not allowed");
    }
    const length = Number(lengths[0]?.[1]);
    const rest = raw.subarray(end + 4);
    if (rest.length !== length) {
        throw new Error(`Content-Length ${length} but ${rest.length} bytes follow the head`);
    }
    if (length > 0) {
        if (rest[0] !== 0x7b && rest[0] !== 0x5b) {
            throw new Error(`body starts with 0x${rest[0]?.toString(16)}, not "{" (or "[" for an API list)`);
        }
        JSON.parse(rest.toString("utf8"));
    }
    return {statusLine, status: Number(match[1]), headers, body: rest};
}

function cameraPost(path: string, host = "v720.naxclow.com", firmware = "202412061749"): string {
    return `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nversion: ${firmware}\r\n\r\n`;
}

function expectedReply(status: string, body: string, extra = ""): string {
    const contentType = body === "" ? "" : "Content-Type: application/json\r\n";
    return (
        `HTTP/1.1 ${status}\r\nServer: nginx/1.14.0 (Ubuntu)\r\nDate: ${DATE}\r\n${contentType}` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`
    );
}

const CONF_CHECK_BODY =
    '{"code":200,"message":"操作成功","data":{"tcpPort":6123,"uid":"0800c00128F8","isBind":"8",' +
    '"domain":"v720.naxclow.com","updateUrl":null,"host":"127.0.0.1","currTime":"1676097689",' +
    '"pwd":"91edf41f","version":null}}';

const DEV_INFO_BODY =
    '{"code":200,"message":"操作成功","data":{"userInfo_state":1,"userInfo_userId":" ","ota_url":null,' +
    '"uid":"5c00200204AB","host":"127.0.0.1","tcpPort":6123,"domain":"v720.naxclow.com","pwd":"91edf41f",' +
    '"isBind":"8","currTime":"1676097689","updateUrl":null,"version":null}}';

const GENERIC_OK = '{"code":200,"message":"OK","data":null}';

describe("byte-exact replies to cameras", () => {
    it("answers getA9ConfCheck with exactly the expected bytes and closes", async () => {
        const {port} = await startHarness();
        const raw = await exchange(
            port,
            cameraPost(
                "/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8&random=OPQRST&token=2d8c8b52f1",
                "v720.naxclow.com",
                "202212011602",
            ),
        );
        expect(raw.toString("utf8")).toBe(expectedReply("200 ", CONF_CHECK_BODY));
        expect(readStrict(raw).headers.find(([name]) => name === "Content-Length")?.[1]).toBe("215");
    });

    it("answers getDevInfo with the §4.4 superset, OTA fields null, byte for byte", async () => {
        const {port} = await startHarness();
        const raw = await exchange(
            port,
            cameraPost("/app/api/ApiSysDevices/getDevInfo?devicesCode=5c00200204AB&random=ABCDEF&token=0123456789"),
        );
        expect(raw.toString("utf8")).toBe(expectedReply("200 ", DEV_INFO_BODY));
        const data = (JSON.parse(readStrict(raw).body.toString("utf8")) as {data: Record<string, unknown>}).data;
        expect([data["ota_url"], data["updateUrl"], data["version"]]).toStrictEqual([null, null, null]);
    });

    it("answers the minimal getDevInfo when devInfoReply is minimal", async () => {
        const {port} = await startHarness({bootstrap: {devInfoReply: "minimal"}});
        const raw = await exchange(port, cameraPost("/app/api/ApiSysDevices/getDevInfo?devicesCode=0800c00128F8"));
        expect(raw.toString("utf8")).toBe(
            expectedReply("200 ", '{"code":200,"message":"OK","data":{"userInfo_state":1}}'),
        );
    });

    it("says Connection: keep-alive without a Keep-Alive header when cloudKeepAlive is set", async () => {
        const {port} = await startHarness({server: {cloudKeepAlive: true}});
        const request = cameraPost("/app/api/ApiSysDevicesBatch/confirm?devicesCode=0800c00128F8");
        const socket = connect(port, "127.0.0.1");
        cleanups.push(() => {
            socket.destroy();
        });
        const chunks: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.write(request + request);
        const one = expectedReply("200 ", '{"code":200,"message":"操作成功","data":null}').replace(
            "Connection: close",
            "Connection: keep-alive",
        );
        await expect.poll(() => Buffer.concat(chunks).toString("utf8")).toBe(one + one);
    });

    it.each([
        {
            name: "GET of a firmware file on dl2.naxclow.com",
            request: "GET /fw/A9.bin HTTP/1.1\r\nHost: dl2.naxclow.com\r\n\r\n",
            reply: ["404 Not Found", ""],
        },
        {
            name: "dl2.naxclow.com.cn with a port and upper case",
            request: "HEAD / HTTP/1.1\r\nHost: DL2.NAXCLOW.COM.CN:80\r\n\r\n",
            reply: ["404 Not Found", ""],
        },
        {
            name: "a bootstrap path on dl2 (any path is sinkholed)",
            request: cameraPost("/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8", "dl2.naxclow.com"),
            reply: ["404 Not Found", ""],
        },
        {
            name: "a log upload with a body to logo.naxclow.com.cn",
            request:
                "POST /log/upload?devicesCode=0800c00128F8 HTTP/1.1\r\nHost: logo.naxclow.com.cn\r\n" +
                "Content-Length: 11\r\nversion: 202411201737\r\n\r\nboot ok 123",
            reply: ["200 ", GENERIC_OK],
        },
        {
            name: "PUT to home.naxclow.com",
            request: "PUT /x HTTP/1.1\r\nHost: home.naxclow.com\r\nContent-Length: 0\r\n\r\n",
            reply: ["200 ", GENERIC_OK],
        },
        {
            name: "home.naxclow.com.cn",
            request: "GET /x HTTP/1.1\r\nHost: home.naxclow.com.cn\r\n\r\n",
            reply: ["200 ", GENERIC_OK],
        },
        {
            name: "logo.naxclow.com",
            request: "GET / HTTP/1.1\r\nHost: logo.naxclow.com\r\n\r\n",
            reply: ["200 ", GENERIC_OK],
        },
    ])("sinkholes $name harmlessly, byte for byte", async ({request, reply}) => {
        const {port, events} = await startHarness();
        const raw = await exchange(port, request);
        const [status = "", body = ""] = reply;
        const expected = expectedReply(status, body);
        // HEAD: same head, no body
        expect(raw.toString("utf8")).toBe(
            request.startsWith("HEAD") ? expected.slice(0, expected.length - body.length) : expected,
        );
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({kind: "sinkhole", host: expect.stringMatching(/naxclow\.com(\.cn)?$/)});
    });

    it("runs a strict client over every reply the server gives", async () => {
        const {port} = await startHarness();
        const close = "Connection: close\r\n";
        const requests: [string, number][] = [
            [cameraPost("/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8"), 200],
            [cameraPost("/app/api/ApiSysDevices/getDevInfo?devicesCode=0800c00128F8"), 200],
            [cameraPost("/app/api/ApiSysDevicesBatch/registerDevices?batch=A9_X4_V12"), 200],
            [cameraPost("/app/api/ApiSysDevicesBatch/confirm?devicesCode=0800c00128F8"), 200],
            [cameraPost("/app/api/ApiSysDevices/a9bindingAppDevice"), 200],
            [cameraPost("/app/api/ApiSysDevices/somethingNew?devicesCode=0800c00128F8"), 200],
            [`GET /app/api/ApiServer/getA9ConfCheck HTTP/1.1\r\nHost: v720.naxclow.com\r\n${close}\r\n`, 405],
            [cameraPost("/ota/check?devicesCode=5c00200204AB"), 404],
            [cameraPost("/x", "dl2.naxclow.com"), 404],
            [cameraPost("/x", "logo.naxclow.com.cn"), 200],
            [`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`, 200],
            [`GET /api/cameras HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`, 200],
            [`GET /api/cameras/0800c00128F8 HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`, 200],
            [`GET /api/cameras/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`, 404],
            [`GET /api/diagnostics HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`, 200],
            [`POST /api/diagnostics HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`, 405],
            [`GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n${close}\r\n`, 404],
        ];
        for (const [request, status] of requests) {
            const reply = readStrict(await exchange(port, request));
            expect(reply.status, request.split("\r\n")[0]).toBe(status);
        }
    });

    it("keeps the non-ASCII Wi-Fi name intact in the API JSON (UTF-8 Content-Length)", async () => {
        const {port} = await startHarness();
        const reply = readStrict(
            await exchange(
                port,
                "GET /api/cameras/0800c00128F8 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            ),
        );
        const json = JSON.parse(reply.body.toString("utf8")) as {baseInfo: {wifiName: string}; family: string};
        expect(json.baseInfo.wifiName).toBe("Café-Wohnzimmer 📶");
        expect(json.family).toBe("classic");
    });
});

describe("GET /api/diagnostics", () => {
    it("lists unknown endpoints, sinkholed hosts and firmware versions, with tokens redacted", async () => {
        const {port} = await startHarness();
        await exchange(
            port,
            cameraPost(
                "/app/api/ApiSysDevices/getDevInfo?devicesCode=5c00200204AB&random=ABCDEF&token=0123456789",
                "v720.naxclow.com",
                "202509111709",
            ),
        );
        await exchange(
            port,
            cameraPost(
                "/app/api/NewApi/doThing?devicesCode=5c00200204AB&token=0123456789",
                "v720.naxclow.com",
                "202509111709",
            ),
        );
        await exchange(
            port,
            cameraPost("/app/api/NewApi/doThing?devicesCode=5c00200204AB", "v720.naxclow.com", "202509111709"),
        );
        await exchange(port, "GET /fw.bin HTTP/1.1\r\nHost: dl2.naxclow.com\r\n\r\n");
        await exchange(port, cameraPost("/ota/check", "v720.naxclow.com", "202411201737"));
        const response = await fetch(`http://127.0.0.1:${port}/api/diagnostics`);
        expect(response.status).toBe(200);
        const text = await response.text();
        expect(text).not.toContain("0123456789");
        const diagnostics = JSON.parse(text) as {
            bootstrapCounts: Record<string, number>;
            unknownEndpoints: {kind: string; path: string; host: string | null; count: number}[];
            unknownRequests: {query: string}[];
            firmwareVersions: {version: string; sources: string[]; cameras: {id: string; family: string}[]}[];
        };
        expect(diagnostics.bootstrapCounts).toStrictEqual({getDevInfo: 1, unknown: 2});
        expect(
            diagnostics.unknownEndpoints.map(({kind, path, host, count}) => ({kind, path, host, count})),
        ).toStrictEqual([
            {kind: "unknown-path", path: "/ota/check", host: "v720.naxclow.com", count: 1},
            {kind: "sinkhole", path: "/fw.bin", host: "dl2.naxclow.com", count: 1},
            {kind: "unknown-bootstrap", path: "/app/api/NewApi/doThing", host: "v720.naxclow.com", count: 2},
        ]);
        expect(diagnostics.unknownRequests.at(-1)?.query).toBe("devicesCode=5c00200204AB&token=<redacted>");
        expect(diagnostics.firmwareVersions).toMatchObject([
            {version: "202411201737", sources: ["http"], cameras: []},
            {version: "202509111709", sources: ["http"], cameras: [{id: "5c00200204AB", family: "mqtt-first"}]},
        ]);
    });
});

describe("capture tap (HTTP side)", () => {
    it("hands over each camera exchange with headers, body preview and the exact reply, only while active", async () => {
        const {server, port} = await startHarness();
        const tap = new RecordingTap();
        server.setCaptureTap(tap);
        await exchange(
            port,
            "POST /log?devicesCode=0800c00128F8&token=abc HTTP/1.1\r\nHost: logo.naxclow.com.cn\r\nContent-Length: 5\r\n\r\nhello",
        );
        await exchange(port, cameraPost("/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8"));
        await exchange(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); // not a camera request
        tap.isActive = false;
        await exchange(port, cameraPost("/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8"));
        expect(tap.exchanges).toHaveLength(2);
        const [log, conf] = tap.exchanges;
        expect(log).toMatchObject({
            deviceId: "0800c00128F8",
            remoteAddress: "127.0.0.1",
            method: "POST",
            url: "/log?devicesCode=0800c00128F8&token=abc",
            rawHeaders: ["Host", "logo.naxclow.com.cn", "Content-Length", "5"],
            requestBodyBytes: 5,
            status: 200,
        });
        expect(Buffer.from(log?.requestBody ?? []).toString()).toBe("hello");
        expect(Buffer.from(conf?.responseBody ?? []).toString("utf8")).toBe(CONF_CHECK_BODY);
        expect(conf?.responseHeaders).toStrictEqual([
            ["Server", "nginx/1.14.0 (Ubuntu)"],
            ["Date", DATE],
            ["Content-Type", "application/json"],
            ["Content-Length", "215"],
            ["Connection", "close"],
        ]);
    });
});
