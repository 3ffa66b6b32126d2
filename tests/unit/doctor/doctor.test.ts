/** `v720-bridge doctor` with every outside effect stubbed: resolver, interfaces, sockets, HTTP, ffmpeg, MQTT. */
import {describe, expect, it} from "vitest";
import type {DoctorDeps, FfmpegInfo, HttpAnswer, LocalAddress} from "../../../src/doctor/checks.js";
import {formatCheck, runDoctorCommand} from "../../../src/doctor/doctor.js";

const LAN = "192.168.1.10";
const VENDOR = "47.91.92.93";

interface Stub {
    names: Record<string, readonly string[] | Error>;
    addresses: LocalAddress[];
    http: Record<string, HttpAnswer>;
    busyPorts: Record<string, string>;
    unreachable: Set<string>;
    ffmpeg: FfmpegInfo | undefined;
    retained: Map<string, string> | Error;
}

function stub(patch: Partial<Stub> = {}): {deps: DoctorDeps; calls: string[]; headers: Record<string, string>[]} {
    const s: Stub = {
        names: {"v720.naxclow.com": [LAN], "v720.p2p.naxclow.com": [LAN]},
        addresses: [
            {address: "127.0.0.1", family: "IPv4", internal: true},
            {address: LAN, family: "IPv4", internal: false},
        ],
        http: {},
        busyPorts: {},
        unreachable: new Set(),
        ffmpeg: {path: "/usr/bin/ffmpeg", version: "5.1.6-0+deb12u1", hasLibx264: true},
        retained: new Map(),
        ...patch,
    };
    const calls: string[] = [];
    const headers: Record<string, string>[] = [];
    const deps: DoctorDeps = {
        lookup: (host) => {
            calls.push(`lookup ${host}`);
            const answer = s.names[host];
            if (answer instanceof Error) {
                return Promise.reject(answer);
            }
            return answer === undefined
                ? Promise.reject(Object.assign(new Error("not found"), {code: "ENOTFOUND"}))
                : Promise.resolve(answer);
        },
        localAddresses: () => s.addresses,
        getJson: (url, requestHeaders) => {
            calls.push(`GET ${url}`);
            headers.push({...requestHeaders});
            return Promise.resolve(s.http[url]);
        },
        probeBind: (protocol, host, port) => {
            calls.push(`bind ${protocol} ${host}:${port}`);
            return Promise.resolve(s.busyPorts[`${protocol}/${port}`]);
        },
        tcpConnect: (host, port) => {
            calls.push(`connect ${host}:${port}`);
            return Promise.resolve(s.unreachable.has(`${host}:${port}`) ? "ECONNREFUSED" : undefined);
        },
        locateFfmpeg: () => Promise.resolve(s.ffmpeg),
        readRetained: (url) => {
            calls.push(`mqtt ${url}`);
            return s.retained instanceof Error ? Promise.reject(s.retained) : Promise.resolve(s.retained);
        },
    };
    return {deps, calls, headers};
}

async function doctor(
    argv: readonly string[],
    deps: DoctorDeps,
    env: readonly (readonly [string, string])[] = [],
): Promise<{code: number; out: string; err: string}> {
    let out = "";
    let err = "";
    const code = await runDoctorCommand(
        argv,
        {
            stdout: {write: (text: string) => (out += text)},
            stderr: {write: (text: string) => (err += text)},
            env: Object.fromEntries(env),
        },
        deps,
    );
    return {code, out, err};
}

const BASE = "http://127.0.0.1:8099";
const READY: HttpAnswer = {
    status: 200,
    body: {
        status: "ready",
        checks: [
            {name: "http", ok: true, detail: "2 of 2 listeners"},
            {name: "mqtt", ok: true, detail: "connected to the Home Assistant broker"},
        ],
    },
};
const CAMERAS: HttpAnswer = {
    status: 200,
    body: [
        {id: "0800c00128F8", online: true, firmware: "202212011602"},
        {id: "0800c0020ADC", online: false, firmware: null},
    ],
};

describe("doctor, service not running", () => {
    it("checks every port and explains the one in use and the name that points at the vendor", async () => {
        const {deps, calls} = stub({
            busyPorts: {"tcp/80": "EADDRINUSE", "udp/6123": "EACCES"},
            names: {"v720.naxclow.com": [VENDOR], "v720.p2p.naxclow.com": [LAN]},
        });
        const {code, out} = await doctor([], deps);
        expect(code).toBe(1);
        expect(out).toContain(`- no service answers at ${BASE}`);
        expect(out).toContain(
            "✗ port 80/tcp on 0.0.0.0 (cloud.http_port, camera bootstrap) cannot be opened (EADDRINUSE)",
        );
        expect(out).toContain("ss -tlnp 'sport = :80'");
        expect(out).toContain(
            "✗ port 6123/udp on 0.0.0.0 (cloud.tcp_port, camera video and audio) cannot be opened (EACCES)",
        );
        expect(out).toContain("✓ port 8099/tcp on 0.0.0.0 (http.port, web UI and API) is free");
        expect(out).toContain("✓ port 1883/tcp on 0.0.0.0 (mqtt.broker.port, embedded MQTT broker) is free");
        expect(out).toContain(`✗ v720.naxclow.com → ${VENDOR}, not this machine`);
        expect(out).toContain(`address=/naxclow.com/${LAN}`);
        expect(out).toContain(`✓ v720.p2p.naxclow.com → ${LAN} (this machine)`);
        expect(out).toContain("✓ ffmpeg 5.1.6-0+deb12u1 at /usr/bin/ffmpeg (libx264)");
        expect(out).toContain("- cameras: start the service first");
        expect(out).toContain("3 problems found");
        // only the two camera names go to the resolver, and nothing is fetched beyond /readyz
        expect(calls.filter((call) => call.startsWith("lookup"))).toStrictEqual([
            "lookup v720.naxclow.com",
            "lookup v720.p2p.naxclow.com",
        ]);
        expect(calls.filter((call) => call.startsWith("GET"))).toStrictEqual([`GET ${BASE}/readyz`]);
        expect(calls.some((call) => call.startsWith("mqtt"))).toBe(false);
    });

    it("skips port 0 and the disabled parts, and checks the built-in DNS port when it is on", async () => {
        const {deps, calls} = stub();
        const {out} = await doctor([], deps, [
            ["V720_CLOUD__HTTP_PORT", "0"],
            ["V720_RTSP__ENABLED", "false"],
            ["V720_MQTT__ENABLED", "false"],
            ["V720_DNS__ENABLED", "true"],
            ["V720_DNS__PORT", "5353"],
        ]);
        expect(out).toContain("- 0/tcp on 0.0.0.0 (cloud.http_port, camera bootstrap): any free port");
        expect(calls).toContain("bind udp 0.0.0.0:5353");
        expect(calls.some((call) => call.includes(":8554"))).toBe(false);
        expect(out).toContain("- MQTT is disabled (mqtt.enabled: false)");
    });

    it("reports a name that does not resolve, a loopback answer and a missing ffmpeg", async () => {
        const {deps} = stub({
            names: {"v720.naxclow.com": ["127.0.0.1"]},
            ffmpeg: undefined,
        });
        const {code, out} = await doctor([], deps);
        expect(code).toBe(1);
        expect(out).toContain("! v720.naxclow.com → 127.0.0.1: loopback, only this machine can use it");
        expect(out).toContain("✗ v720.p2p.naxclow.com does not resolve (ENOTFOUND)");
        expect(out).toContain("✗ ffmpeg not found");
        expect(out).toContain("apt-get install ffmpeg");
    });

    it("accepts names that resolve to advertise_host or dns.answer_address", async () => {
        const {deps} = stub({
            names: {"v720.naxclow.com": ["10.0.0.5"], "v720.p2p.naxclow.com": ["10.0.0.6"]},
        });
        const {out} = await doctor([], deps, [
            ["V720_ADVERTISE_HOST", "10.0.0.5"],
            ["V720_DNS__ANSWER_ADDRESS", "10.0.0.6"],
        ]);
        expect(out).toContain("✓ v720.naxclow.com → 10.0.0.5 (this machine)");
        expect(out).toContain("✓ v720.p2p.naxclow.com → 10.0.0.6 (this machine)");
        expect(out).toContain("! advertise_host 10.0.0.5 is not an address of this machine");
    });
});

describe("doctor, service running", () => {
    it("asks /readyz instead of probing ports, and reports the broker, Home Assistant and the cameras", async () => {
        const {deps, calls} = stub({
            http: {[`${BASE}/readyz`]: READY, [`${BASE}/api/cameras`]: CAMERAS},
            retained: new Map([
                ["homeassistant/status", "online"],
                ["homeassistant/device/0800c00128F8/config", '{"device":{"identifiers":["v720_0800c00128F8"]}}'],
            ]),
        });
        const {code, out} = await doctor([], deps);
        expect(out).toContain(`✓ service running at ${BASE} and ready`);
        expect(out).toContain("    ✓ mqtt: connected to the Home Assistant broker");
        expect(calls.some((call) => call.startsWith("bind"))).toBe(false);
        expect(out).toContain("✓ camera broker (embedded) reachable at 127.0.0.1:1883");
        expect(out).toContain("✓ Home Assistant is online on mqtt://127.0.0.1:1883 (homeassistant/status)");
        expect(out).toContain("retained under homeassistant/: 1 from v720-bridge, 0 from other integrations");
        expect(out).toContain("✓ 2 cameras registered, 1 online");
        expect(out).toContain("    0800c0020ADC: offline, firmware unknown");
        expect(out).toContain("No problems found.");
        expect(code).toBe(0);
    });

    it("explains a service that is up but not ready", async () => {
        const {deps} = stub({
            http: {
                [`${BASE}/readyz`]: {
                    status: 503,
                    body: {
                        status: "not ready",
                        checks: [
                            {name: "http", ok: true},
                            {name: "mqtt", ok: false},
                        ],
                    },
                },
                [`${BASE}/api/cameras`]: {status: 200, body: []},
            },
        });
        const {code, out} = await doctor([], deps);
        expect(code).toBe(1);
        expect(out).toContain(`✗ service running at ${BASE} but not ready (mqtt)`);
        expect(out).toContain("cannot reach the Home Assistant broker");
        expect(out).toContain("✗ no camera has registered yet");
        expect(out).toContain("power-cycle the camera");
    });

    it("connects to an external broker and says when it is down", async () => {
        const {deps, calls} = stub({
            http: {[`${BASE}/readyz`]: READY, [`${BASE}/api/cameras`]: CAMERAS},
            unreachable: new Set(["10.0.0.2:1884"]),
        });
        const {code, out} = await doctor([], deps, [
            ["V720_MQTT__BROKER__EMBEDDED", "false"],
            ["V720_MQTT__BROKER__URL", "mqtt://10.0.0.2:1884"],
        ]);
        expect(code).toBe(1);
        expect(calls).toContain("connect 10.0.0.2:1884");
        expect(out).toContain("✗ camera broker at 10.0.0.2:1884 is not reachable (ECONNREFUSED)");
        expect(out).toContain("v720.p2p.naxclow.com:1883");
    });

    it("sends http.auth to the API and says when the credentials are missing", async () => {
        const withAuth = stub({http: {[`${BASE}/readyz`]: READY, [`${BASE}/api/cameras`]: CAMERAS}});
        await doctor([], withAuth.deps, [
            ["V720_HTTP__AUTH__USERNAME", "admin"],
            ["V720_HTTP__AUTH__PASSWORD", "pw"],
        ]);
        expect(withAuth.headers.at(-2)).toStrictEqual({
            authorization: `Basic ${Buffer.from("admin:pw").toString("base64")}`,
        });

        const refused = stub({
            http: {[`${BASE}/readyz`]: READY, [`${BASE}/api/cameras`]: {status: 401, body: {error: "x"}}},
        });
        const {out} = await doctor([], refused.deps);
        expect(out).toContain("✗ the API asks for credentials (http.auth)");
    });

    it("lists unknown camera requests from /api/diagnostics", async () => {
        const {deps} = stub({
            http: {
                [`${BASE}/readyz`]: READY,
                [`${BASE}/api/cameras`]: CAMERAS,
                [`${BASE}/api/diagnostics`]: {status: 200, body: {unknownRequests: [{path: "/app/new/api"}]}},
            },
        });
        const {out} = await doctor([], deps);
        expect(out).toContain("! 1 camera request the bridge does not know (newer firmware?)");
        expect(out).toContain("    /app/new/api");
    });

    it("uses --url", async () => {
        const {deps, calls} = stub();
        await doctor(["--url", "http://10.0.0.9:9000/"], deps);
        expect(calls[0]).toBe("GET http://10.0.0.9:9000/readyz");
    });
});

describe("doctor command line", () => {
    it("prints help, and refuses unknown options and a bad --url with exit code 2", async () => {
        const {deps} = stub();
        expect((await doctor(["--help"], deps)).out).toContain("Usage: v720-bridge doctor");
        expect((await doctor(["--nope"], deps)).code).toBe(2);
        expect((await doctor(["--url", "ftp://x"], deps)).code).toBe(2);
    });

    it("reports an invalid configuration as a failed check", async () => {
        const {deps} = stub();
        const {code, out} = await doctor([], deps, [["V720_CLOUD__TCP_PORT", "70000"]]);
        expect(code).toBe(1);
        expect(out).toContain("✗ the configuration is invalid");
        expect(out).toContain("cloud.tcp_port");
    });

    it("formats each mark", () => {
        expect(formatCheck({status: "ok", title: "fine", fix: "never shown"})).toBe("✓ fine\n");
        expect(formatCheck({status: "fail", title: "bad", details: ["why"], fix: "do this"})).toBe(
            "✗ bad\n    why\n    → do this\n",
        );
        expect(formatCheck({status: "warn", title: "hmm"})).toBe("! hmm\n");
        expect(formatCheck({status: "skip", title: "later"})).toBe("- later\n");
    });
});
