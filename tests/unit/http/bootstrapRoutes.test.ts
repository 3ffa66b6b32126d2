import {describe, expect, it} from "vitest";
import {
    type BootstrapOptions,
    type BootstrapRequest,
    buildCloudReplyHeaders,
    handleBootstrapRequest,
    handleSinkholeRequest,
    normalizeHost,
    SINKHOLE_HOSTS,
    sinkholeKindOf,
    stripIpv4Mapped,
} from "../../../src/http/bootstrapRoutes.js";

/** The fake server's reply in the capture, 215 bytes (protocol-notes.md §3.4, capture-dump.md frame 30). */
const CAPTURED_CONF_CHECK =
    '{"code":200,"message":"操作成功","data":{"tcpPort":6123,"uid":"0800c00128F8","isBind":"8",' +
    '"domain":"v720.naxclow.com","updateUrl":null,"host":"10.42.0.1","currTime":"1676097689","pwd":"91edf41f","version":null}}';

function options(overrides: Partial<BootstrapOptions> = {}): BootstrapOptions & {issued: string[]; asked: string[]} {
    const issued: string[] = [];
    const asked: string[] = [];
    return {
        tcpPort: 6123,
        issueDeviceId: () => {
            const id = `0800c0${String(issued.length + 1).padStart(6, "0")}`;
            issued.push(id);
            return id;
        },
        passwordFor: (id: string) => {
            asked.push(id);
            return "91edf41f";
        },
        nowMs: () => 1_676_097_689_999,
        issued,
        asked,
        ...overrides,
    };
}

function request(pathAndQuery: string, overrides: Partial<BootstrapRequest> = {}): BootstrapRequest {
    const mark = pathAndQuery.indexOf("?");
    return {
        method: "POST",
        path: mark < 0 ? pathAndQuery : pathAndQuery.slice(0, mark),
        query: mark < 0 ? "" : pathAndQuery.slice(mark + 1),
        firmware: "202212011602",
        remoteAddress: "10.42.0.22",
        localAddress: "10.42.0.1",
        ...overrides,
    };
}

function ok(result: ReturnType<typeof handleBootstrapRequest>) {
    if (result?.status !== 200) {
        throw new Error(`expected a 200 result, got ${JSON.stringify(result)}`);
    }
    return result;
}

const utf8Length = (text: string): number => Buffer.byteLength(text, "utf8");

describe("handleBootstrapRequest", () => {
    it("answers getA9ConfCheck byte for byte like the captured fake server (215 bytes)", () => {
        const result = ok(
            handleBootstrapRequest(
                request("/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8&random=OPQRST&token=2d8c8b52f1"),
                options(),
            ),
        );
        expect(result.body).toBe(CAPTURED_CONF_CHECK);
        expect(result.body.length).toBe(207);
        expect(utf8Length(result.body)).toBe(215); // 操作成功: 4 characters, 12 bytes
    });

    it("sends tcpPort as a number, isBind/currTime as strings and updateUrl/version as null", () => {
        const body = JSON.parse(
            ok(handleBootstrapRequest(request("/app/api/ApiServer/getA9ConfCheck?devicesCode=ABC"), options())).body,
        ) as {data: Record<string, unknown>};
        expect(body.data).toStrictEqual({
            tcpPort: 6123,
            uid: "ABC",
            isBind: "8",
            domain: "v720.naxclow.com",
            updateUrl: null,
            host: "10.42.0.1",
            currTime: "1676097689",
            pwd: "91edf41f",
            version: null,
        });
    });

    it("uses advertiseHost for host when set and asks passwordFor with the device id", () => {
        const opts = options({advertiseHost: "192.168.1.5", tcpPort: 29940});
        const body = ok(
            handleBootstrapRequest(request("/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c0020ADC"), opts),
        ).body;
        expect(body).toContain('"host":"192.168.1.5"');
        expect(body).toContain('"tcpPort":29940,');
        expect(opts.asked).toStrictEqual(["0800c0020ADC"]);
    });

    it("hands out a new id on registerDevices (59 bytes like the real cloud)", () => {
        const opts = options({issueDeviceId: () => "0800c00128F8"});
        const result = ok(
            handleBootstrapRequest(
                request("/app/api/ApiSysDevicesBatch/registerDevices?batch=A9_X4_V12&random=DEFGHI&token=547d4ef98b"),
                opts,
            ),
        );
        expect(result.body).toBe('{"code":200,"message":"操作成功","data":"0800c00128F8"}');
        expect(utf8Length(result.body)).toBe(59);
        expect(result.event).toStrictEqual({
            kind: "registerDevices",
            deviceId: "0800c00128F8",
            firmware: "202212011602",
            remoteAddress: "10.42.0.22",
            path: "/app/api/ApiSysDevicesBatch/registerDevices",
            query: "batch=A9_X4_V12&random=DEFGHI&token=547d4ef98b",
        });
    });

    it("issues a different id on every registerDevices call", () => {
        const opts = options();
        const path = "/app/api/ApiSysDevicesBatch/registerDevices?batch=A9_X4_V12";
        const first = ok(handleBootstrapRequest(request(path), opts)).event.deviceId;
        const second = ok(handleBootstrapRequest(request(path), opts)).event.deviceId;
        expect(opts.issued).toStrictEqual([first, second]);
        expect(first).not.toBe(second);
    });

    it.each([
        {
            name: "confirm (49 bytes)",
            path: "/app/api/ApiSysDevicesBatch/confirm?devicesCode=0800c0020ADC&random=NOPQRS&token=025d085049",
            body: '{"code":200,"message":"操作成功","data":null}',
            bytes: 49,
            kind: "confirm",
        },
        {
            name: "getDevInfo with the new-firmware-notes.md §4.4 superset",
            path: "/app/api/ApiSysDevices/getDevInfo?devicesCode=5c00200204AB&random=ABCDEF&token=0123456789",
            body:
                '{"code":200,"message":"操作成功","data":{"userInfo_state":1,"userInfo_userId":" ","ota_url":null,' +
                '"uid":"5c00200204AB","host":"10.42.0.1","tcpPort":6123,"domain":"v720.naxclow.com","pwd":"91edf41f",' +
                '"isBind":"8","currTime":"1676097689","updateUrl":null,"version":null}}',
            bytes: 271,
            kind: "getDevInfo",
        },
        {
            name: "a9bindingAppDevice",
            path: "/app/api/ApiSysDevices/a9bindingAppDevice?devicesCode=0800c0020ADC",
            body: '{"code":200,"message":"OK","data":null}',
            bytes: 39,
            kind: "a9bindingAppDevice",
        },
        {
            name: "an unknown path under /app/",
            path: "/app/api/ApiSysDevices/somethingNew?devicesCode=0800c0020ADC&x=1",
            body: '{"code":200,"message":"OK","data":null}',
            bytes: 39,
            kind: "unknown",
        },
    ])("answers $name", ({path, body, bytes, kind}) => {
        const result = ok(handleBootstrapRequest(request(path), options()));
        expect(result.body).toBe(body);
        expect(utf8Length(result.body)).toBe(bytes);
        expect(result.event.kind).toBe(kind);
        expect(result.event.deviceId).toBe(new URLSearchParams(path.split("?")[1]).get("devicesCode"));
    });

    it("reports path, query and firmware of an unknown POST", () => {
        const result = ok(
            handleBootstrapRequest(
                request("/app/v2/newThing?devicesCode=X1&a=b", {firmware: "202509111709"}),
                options(),
            ),
        );
        expect(result.event).toStrictEqual({
            kind: "unknown",
            deviceId: "X1",
            firmware: "202509111709",
            remoteAddress: "10.42.0.22",
            path: "/app/v2/newThing",
            query: "devicesCode=X1&a=b",
        });
    });

    it("leaves deviceId and firmware out of the event when the request has none", () => {
        const result = ok(
            handleBootstrapRequest(request("/app/api/ApiSysDevices/getDevInfo", {firmware: undefined}), options()),
        );
        expect(result.event).toStrictEqual({
            kind: "getDevInfo",
            remoteAddress: "10.42.0.22",
            path: "/app/api/ApiSysDevices/getDevInfo",
            query: "",
        });
    });

    it("answers 405 to a non-POST under /app/ without an event", () => {
        const result = handleBootstrapRequest(request("/app/api/ApiServer/getA9ConfCheck", {method: "GET"}), options());
        expect(result).toStrictEqual({
            status: 405,
            body: '{"error":"method not allowed","method":"GET","allow":"POST"}',
        });
    });

    it("ignores paths outside /app/", () => {
        expect(handleBootstrapRequest(request("/api/cameras"), options())).toBeUndefined();
        expect(handleBootstrapRequest(request("/application"), options())).toBeUndefined();
    });

    it("does not validate random or token (protocol-notes.md §3.1)", () => {
        const body = ok(
            handleBootstrapRequest(
                request("/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8&random=zz&token=nothex"),
                options(),
            ),
        ).body;
        expect(body).toBe(CAPTURED_CONF_CHECK);
    });
});

describe("getDevInfo", () => {
    it("never offers an update: ota_url, updateUrl and version are null", () => {
        const body = JSON.parse(
            ok(handleBootstrapRequest(request("/app/api/ApiSysDevices/getDevInfo?devicesCode=0800c00128F8"), options()))
                .body,
        ) as {data: Record<string, unknown>};
        expect([body.data["ota_url"], body.data["updateUrl"], body.data["version"]]).toStrictEqual([null, null, null]);
        expect(body.data["userInfo_state"]).toBe(1);
    });

    it("uses advertiseHost, tcpPort and the device's pwd like getA9ConfCheck", () => {
        const opts = options({advertiseHost: "192.168.1.5", tcpPort: 29940});
        const body = JSON.parse(
            ok(handleBootstrapRequest(request("/app/api/ApiSysDevices/getDevInfo?devicesCode=0800c0020ADC"), opts))
                .body,
        ) as {data: Record<string, unknown>};
        expect(body.data).toMatchObject({host: "192.168.1.5", tcpPort: 29940, uid: "0800c0020ADC", pwd: "91edf41f"});
        expect(opts.asked).toStrictEqual(["0800c0020ADC"]);
    });

    it("answers the minimal variant (E1 of the notes) when asked to", () => {
        const result = ok(
            handleBootstrapRequest(
                request("/app/api/ApiSysDevices/getDevInfo?devicesCode=0800c00128F8"),
                options({devInfoReply: "minimal"}),
            ),
        );
        expect(result.body).toBe('{"code":200,"message":"OK","data":{"userInfo_state":1}}');
    });
});

describe("sinkholed hosts", () => {
    it("covers dl2, home and logo with their .com and .com.cn variants", () => {
        expect(Object.keys(SINKHOLE_HOSTS).sort()).toStrictEqual([
            "dl2.naxclow.com",
            "dl2.naxclow.com.cn",
            "home.naxclow.com",
            "home.naxclow.com.cn",
            "logo.naxclow.com",
            "logo.naxclow.com.cn",
        ]);
    });

    it.each([
        ["dl2.naxclow.com", "download"],
        ["DL2.NaxClow.com.cn:80", "download"],
        ["dl2.naxclow.com.", "download"],
        ["home.naxclow.com", "logging"],
        ["logo.naxclow.com.cn", "logging"],
        ["v720.naxclow.com", undefined],
        ["dl2.naxclow.com.evil.example", undefined],
        ["xdl2.naxclow.com", undefined],
        ["constructor", undefined],
        [undefined, undefined],
    ])("Host %s is %s", (host, kind) => {
        expect(sinkholeKindOf(host)).toBe(kind);
    });

    it.each([
        ["Example.COM:8080", "example.com"],
        ["[::1]:80", "[::1]"],
        [" a.b. ", "a.b"],
        [undefined, undefined],
    ])("normalizeHost(%s) is %s", (input, expected) => {
        expect(normalizeHost(input)).toBe(expected);
    });

    it("answers the download host with an empty 404 and the others with generic success, any method", () => {
        expect(handleSinkholeRequest(request("/fw/a.bin", {method: "GET"}), "dl2.naxclow.com")).toStrictEqual({
            status: 404,
            body: "",
            event: {
                kind: "sinkhole",
                firmware: "202212011602",
                remoteAddress: "10.42.0.22",
                path: "/fw/a.bin",
                query: "",
                host: "dl2.naxclow.com",
            },
        });
        const logging = handleSinkholeRequest(request("/log?devicesCode=X1", {method: "PUT"}), "logo.naxclow.com.cn");
        expect(logging?.status).toBe(200);
        expect(logging?.body).toBe('{"code":200,"message":"OK","data":null}');
        expect(logging?.event).toMatchObject({kind: "sinkhole", deviceId: "X1", host: "logo.naxclow.com.cn"});
    });

    it("leaves other hosts to the bootstrap routes", () => {
        expect(handleSinkholeRequest(request("/app/api/ApiServer/getA9ConfCheck"), "v720.naxclow.com")).toBeUndefined();
        expect(handleSinkholeRequest(request("/app/api/ApiServer/getA9ConfCheck"), undefined)).toBeUndefined();
    });
});

describe("buildCloudReplyHeaders", () => {
    it("lists the real cloud's headers in its order, Date from the clock, UTF-8 length, Connection: close", () => {
        expect(buildCloudReplyHeaders({bodyBytes: 215, nowMs: 1_676_097_689_000})).toStrictEqual([
            ["Server", "nginx/1.14.0 (Ubuntu)"],
            ["Date", "Sat, 11 Feb 2023 06:41:29 GMT"],
            ["Content-Type", "application/json"],
            ["Content-Length", "215"],
            ["Connection", "close"],
        ]);
    });

    it("leaves Content-Type out of an empty reply and appends extra headers", () => {
        expect(
            buildCloudReplyHeaders({bodyBytes: 0, nowMs: 0, isKeepAlive: true, extra: [["Allow", "POST"]]}),
        ).toStrictEqual([
            ["Server", "nginx/1.14.0 (Ubuntu)"],
            ["Date", "Thu, 01 Jan 1970 00:00:00 GMT"],
            ["Content-Length", "0"],
            ["Connection", "keep-alive"],
            ["Allow", "POST"],
        ]);
    });
});

describe("stripIpv4Mapped", () => {
    it.each([
        ["::ffff:10.42.0.1", "10.42.0.1"],
        ["10.42.0.1", "10.42.0.1"],
        ["::1", "::1"],
        ["fe80::1", "fe80::1"],
        [undefined, ""],
    ])("%s → %s", (input, expected) => {
        expect(stripIpv4Mapped(input)).toBe(expected);
    });
});
