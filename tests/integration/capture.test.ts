/**
 * Issue 6 item 5 through the real app: `GET /api/cameras/:id/capture` and the `capture` CLI record a
 * simulated session (HTTP bootstrap, TCP both ways, UDP both ways with media summarised) as valid
 * JSON lines with ISO timestamps and directions, and nothing secret in clear: the pwd handed out,
 * the bootstrap token, cliToken and a Wi-Fi password sent in a 204.
 *
 * MQTT (app with its embedded camera broker): the camera's CONNECT (password redacted), SUBSCRIBE,
 * Status and Info publishes come in, the bridge's commands (a wake) go out, and the Info firmware
 * reaches GET /api/diagnostics.
 */
import {mkdtemp, readFile, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterEach, describe, expect, it} from "vitest";
import {runCaptureCommand} from "../../src/capture/captureCommand.js";
import {CaptureHub} from "../../src/capture/captureHub.js";
import {CaptureRoutes} from "../../src/http/captureRoutes.js";
import {HttpServer} from "../../src/http/httpServer.js";
import {MqttDevice} from "../../src/simulator/mqttDevice.js";
import {SimCamera, type SimCameraOptions} from "../../src/simulator/simCamera.js";
import {silentLogger} from "../../src/util/log.js";
import {type MjpegClient, openMjpeg} from "../support/mjpegClient.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

async function app(): Promise<TestApp> {
    const started = await startTestApp();
    cleanups.push(() => started.stop());
    return started;
}

function camera(server: TestApp, id: string, options: Partial<SimCameraOptions> = {}): SimCamera {
    const sim = new SimCamera({
        id,
        serverHost: "127.0.0.1",
        httpPort: server.ports.cloudHttp,
        fps: 20,
        heartbeatIntervalMs: 500,
        reconnectDelayMs: 100,
        ...options,
    });
    cleanups.push(() => sim.close({abrupt: true}));
    return sim;
}

interface CaptureStream {
    readonly lines: string[];
    readonly records: Record<string, unknown>[];
    readonly status: number;
    readonly contentType: string | null;
    /** Resolves when the server ends the stream (or the client aborts). */
    readonly done: Promise<void>;
    abort(): void;
}

async function openCapture(url: string): Promise<CaptureStream> {
    const controller = new AbortController();
    const response = await fetch(url, {signal: controller.signal});
    const lines: string[] = [];
    const records: Record<string, unknown>[] = [];
    const body = response.body;
    const done = (async () => {
        if (body === null) {
            return;
        }
        const decoder = new TextDecoder();
        let pending = "";
        try {
            for await (const chunk of body) {
                pending += decoder.decode(chunk, {stream: true});
                let newline = pending.indexOf("\n");
                while (newline >= 0) {
                    const line = pending.slice(0, newline);
                    pending = pending.slice(newline + 1);
                    lines.push(line);
                    records.push(JSON.parse(line) as Record<string, unknown>); // throws on a bad line: the test fails
                    newline = pending.indexOf("\n");
                }
            }
        } catch (error) {
            if (!controller.signal.aborted) {
                throw error;
            }
        }
        expect(pending, "the stream ends with a whole line").toBe("");
    })();
    cleanups.push(async () => {
        controller.abort();
        await done.catch(() => undefined);
    });
    return {
        lines,
        records,
        status: response.status,
        contentType: response.headers.get("content-type"),
        done,
        abort: () => controller.abort(),
    };
}

/** The pwd the app hands this camera (the camera returns it as `token` in code 100). */
async function pwdOf(server: TestApp, id: string): Promise<string> {
    const response = await fetch(
        `http://127.0.0.1:${server.ports.cloudHttp}/app/api/ApiServer/getA9ConfCheck?devicesCode=${id}`,
        {method: "POST"},
    );
    const body = (await response.json()) as {data: {pwd: string}};
    return body.data.pwd;
}

function kinds(records: readonly Record<string, unknown>[]): Set<string> {
    return new Set(records.map((record) => `${String(record["proto"])} ${String(record["dir"] ?? record["event"])}`));
}

/** Every value under a secret key is "<redacted>" (or null), at any depth. */
function secretValues(value: unknown, found: unknown[] = []): unknown[] {
    if (Array.isArray(value)) {
        for (const item of value) {
            secretValues(item, found);
        }
    } else if (typeof value === "object" && value !== null) {
        for (const [key, item] of Object.entries(value)) {
            if (/^(p|pwd|password|passwd|tarpwd|token|devtoken|clitoken)$/i.test(key)) {
                found.push(item);
            } else {
                secretValues(item, found);
            }
        }
    }
    return found;
}

describe("capture over the API", () => {
    it("records a simulated session as redacted JSON lines covering HTTP, TCP and UDP both ways", async () => {
        const server = await app();
        const id = "0800c0024CAF";
        const capture = await openCapture(`${server.baseUrl}/api/cameras/${id}/capture?seconds=60`);
        expect(capture.status).toBe(200);
        expect(capture.contentType).toBe("application/x-ndjson; charset=utf-8");
        await expect.poll(() => capture.records.length).toBeGreaterThan(0); // the start line: the capture is on

        const sim = camera(server, id, {personality: "classic-2024"});
        sim.start();
        await expect.poll(async () => (await server.cameras.registry.get(id))?.online, {timeout: 10_000}).toBe(true);
        const client: MjpegClient = await openMjpeg(`${server.baseUrl}/api/cameras/${id}/stream.mjpeg`);
        cleanups.push(() => client.close());
        for (let index = 0; index < 30; index += 1) {
            await client.next(10_000); // 1.5 s of video at 20 fps: media summaries happen
        }
        expect(server.cameras.registry.sendForward(id, {code: 204, s: "Café-Wohnzimmer 📶", p: "hunter2-wifi"})).toBe(
            true,
        );
        await expect
            .poll(() => kinds(capture.records), {timeout: 5000})
            .toEqual(new Set(["capture start", "http in", "http out", "tcp in", "tcp out", "udp in", "udp out"]));
        await expect.poll(() => capture.lines.some((line) => line.includes('"summary"'))).toBe(true);
        await expect.poll(() => capture.lines.some((line) => line.includes('"code":204'))).toBe(true);
        capture.abort();
        await capture.done;
        const pwd = await pwdOf(server, id); // asked after the capture: this request is the camera's too

        const {records, lines} = capture;
        for (const record of records) {
            expect(record["camera"]).toBe(id);
            expect(new Date(String(record["t"])).toISOString()).toBe(record["t"]);
        }
        expect(records[0]).toMatchObject({proto: "capture", event: "start", family: "classic", model: "A9-4"});
        const requests = records.filter((record) => record["proto"] === "http" && record["dir"] === "in");
        expect(requests.map((record) => record["path"])).toStrictEqual([
            "/app/api/ApiSysDevices/getDevInfo",
            "/app/api/ApiServer/getA9ConfCheck",
        ]);
        expect(requests[0]).toMatchObject({
            method: "POST",
            query: {devicesCode: id, token: "<redacted>"},
            headers: [
                ["Host", "v720.naxclow.com"],
                ["version", "202412061749"],
            ],
        });
        const tcpIn = records.filter((record) => record["proto"] === "tcp" && record["dir"] === "in");
        expect(tcpIn.map((record) => (record["json"] as {code?: number} | undefined)?.code)).toContain(100);
        expect(lines.some((line) => line.includes('"wifiName":"Café-Wohnzimmer 📶"'))).toBe(true);

        const text = lines.join("\n");
        expect(pwd).toMatch(/^[0-9a-f]{8}$/);
        expect(text).not.toContain(pwd);
        expect(text).not.toContain("hunter2-wifi");
        expect(new Set(secretValues(records))).toStrictEqual(new Set(["<redacted>"]));
        // media is summarised: far fewer lines than the datagrams the camera sent
        expect(lines.length).toBeLessThan(sim.stats.datagramsSent / 4);
    });

    it("ends the stream with an end line when the time is up", async () => {
        const server = await app();
        const capture = await openCapture(`${server.baseUrl}/api/cameras/0800c0000077/capture?seconds=1`);
        await capture.done;
        expect(capture.records.map((record) => record["event"])).toStrictEqual(["start", "end"]);
        expect(capture.records[1]).toMatchObject({reason: "time is up", records: 1});
    });

    it.each([
        ["/api/cameras/bad%20id/capture", 400],
        ["/api/cameras/0800c00128F8/capture?seconds=0", 400],
        ["/api/cameras/0800c00128F8/capture?seconds=99999", 400],
        ["/api/cameras/0800c00128F8/capture?seconds=1.5", 400],
    ])("answers %s with %i JSON", async (path, status) => {
        const server = await app();
        const response = await fetch(`${server.baseUrl}${path}`);
        expect(response.status).toBe(status);
        expect(await response.json()).toMatchObject({error: expect.any(String)});
    });

    it("answers a POST with 405", async () => {
        const server = await app();
        const response = await fetch(`${server.baseUrl}/api/cameras/0800c00128F8/capture`, {method: "POST"});
        expect(response.status).toBe(405);
    });
});

describe("capture of the MQTT leg", () => {
    it("records CONNECT, SUBSCRIBE, Status, Info and a command sent, with the MQTT password redacted", async () => {
        const server = await startTestApp({
            mqtt: {enabled: true, snapshot_interval_s: 0, broker: {port: 0, host: "127.0.0.1"}},
        });
        cleanups.push(() => server.stop());
        const id = "5c00200204AC";
        const capture = await openCapture(`${server.baseUrl}/api/cameras/${id}/capture?seconds=60`);
        await expect.poll(() => capture.records.length).toBeGreaterThan(0);
        expect(capture.records[0]).toMatchObject({event: "start", mqttRecorded: true, family: "mqtt-first"});

        const device = new MqttDevice({
            url: `mqtt://127.0.0.1:${server.ports.mqttBroker}`,
            deviceId: id,
            personality: "mqtt-first",
            password: "0123456789",
            infoDelayMs: 10,
        });
        cleanups.push(() => device.stop());
        await device.start();
        await expect
            .poll(() => capture.lines.some((line) => line.includes('"topic":"Naxclow/P2P/Users/Device/Info"')))
            .toBe(true);
        const wake = await fetch(`${server.baseUrl}/api/cameras/${id}/wake`, {
            method: "POST",
            headers: {"Content-Type": "application/json"},
            body: "{}",
        });
        expect(wake.status).toBe(200);
        await expect.poll(() => device.receivedCommands.length).toBe(1);
        await expect.poll(() => capture.lines.some((line) => line.includes('"code":240'))).toBe(true);
        capture.abort();
        await capture.done;

        const mqtt = capture.records.filter((record) => record["proto"] === "mqtt");
        expect(mqtt.map((record) => `${String(record["dir"])} ${String(record["packet"])}`)).toEqual(
            expect.arrayContaining(["in connect", "in subscribe", "in publish", "out publish"]),
        );
        expect(mqtt.find((record) => record["packet"] === "connect")).toMatchObject({
            clientId: id,
            username: id,
            password: "<redacted>",
            keepaliveS: 10,
            will: {topic: "Naxclow/P2P/Users/Device/Status"},
        });
        expect(mqtt.find((record) => record["packet"] === "subscribe")).toMatchObject({
            topics: [`Naxclow/P2P/Users/Device/sub/${id}`],
        });
        const statuses = mqtt.filter((record) => record["topic"] === "Naxclow/P2P/Users/Device/Status");
        expect(statuses.map((record) => (record["json"] as {status: number}).status).slice(0, 2)).toStrictEqual([0, 1]);
        const out = mqtt.find((record) => record["dir"] === "out");
        expect(out).toMatchObject({topic: `Naxclow/P2P/Users/Device/sub/${id}`, json: {code: 240, pwd: "<redacted>"}});

        const text = capture.lines.join("\n");
        expect(text).not.toContain("0123456789");
        expect(new Set(secretValues(capture.records))).toStrictEqual(new Set(["<redacted>"]));
        const diagnostics = (await (await fetch(`${server.baseUrl}/api/diagnostics`)).json()) as {
            firmwareVersions: {version: string; sources: string[]}[];
        };
        expect(diagnostics.firmwareVersions).toContainEqual(
            expect.objectContaining({version: "202411152039", sources: ["mqtt"]}),
        );
    });
});

describe("capture routes", () => {
    it("refuses a capture beyond maxConcurrent with 503 and ends running ones on stop", async () => {
        const hub = new CaptureHub();
        const routes = new CaptureRoutes(hub, {maxConcurrent: 1}, silentLogger);
        const server = new HttpServer(
            {bootstrap: {tcpPort: 1, issueDeviceId: () => "x", passwordFor: () => "x", nowMs: Date.now}},
            [routes],
            silentLogger,
        );
        const [port = 0] = await server.start([{port: 0, host: "127.0.0.1"}]);
        cleanups.push(() => server.stop());
        const first = await openCapture(`http://127.0.0.1:${port}/api/cameras/0800c00128F8/capture`);
        await expect.poll(() => first.records.length).toBe(1);
        expect(routes.runningCount).toBe(1);
        const second = await fetch(`http://127.0.0.1:${port}/api/cameras/0800c0000001/capture`);
        expect(second.status).toBe(503);
        expect(await second.json()).toMatchObject({error: "too many captures running", maxConcurrent: 1});
        await server.stop();
        await first.done;
        expect(first.records.at(-1)).toMatchObject({event: "end", reason: "server stopping"});
        expect([routes.runningCount, hub.isActive]).toStrictEqual([0, false]);
    });
});

describe("capture CLI", () => {
    async function tempFile(): Promise<string> {
        const dir = await mkdtemp(join(tmpdir(), "v720-capture-"));
        cleanups.push(() => rm(dir, {recursive: true, force: true}));
        return join(dir, "capture.jsonl");
    }

    function io(signal?: AbortSignal) {
        const out: string[] = [];
        const err: string[] = [];
        return {
            out,
            err,
            io: {
                stdout: {write: (chunk: string | Uint8Array) => out.push(String(chunk))},
                stderr: {write: (chunk: string) => err.push(chunk)},
                ...(signal === undefined ? {} : {signal}),
            },
        };
    }

    it("writes the camera's boot to a file until --seconds pass", async () => {
        const server = await app();
        const file = await tempFile();
        const id = "0800c0024CB0";
        const sim = camera(server, id, {personality: "classic-2024"});
        const {io: commandIo, err} = io();
        const run = runCaptureCommand(
            ["--camera", id, "-o", file, "--url", server.baseUrl, "--seconds", "1"],
            commandIo,
        );
        await expect.poll(() => err.join("")).toContain("capturing camera");
        sim.start();
        expect(await run).toBe(0);
        const lines = (await readFile(file, "utf8")).split("\n").filter((line) => line !== "");
        const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(records[0]).toMatchObject({proto: "capture", event: "start", camera: id});
        expect(records.at(-1)).toMatchObject({proto: "capture", event: "end", reason: "time is up"});
        expect([...kinds(records)]).toEqual(expect.arrayContaining(["http in", "http out", "tcp in", "tcp out"]));
        expect(err.join("")).toContain(`${lines.length} records written to ${file}`);
    });

    it("stops on the abort signal and keeps what was recorded", async () => {
        const server = await app();
        const file = await tempFile();
        const controller = new AbortController();
        const {io: commandIo, err} = io(controller.signal);
        const run = runCaptureCommand(["--camera", "0800c0000078", "-o", file, "--url", server.baseUrl], commandIo);
        await expect.poll(async () => (await readFile(file, "utf8").catch(() => "")).length).toBeGreaterThan(0);
        controller.abort();
        expect(await run).toBe(0);
        expect(err.join("")).toContain("(interrupted)");
        const first = JSON.parse((await readFile(file, "utf8")).split("\n")[0] ?? "") as Record<string, unknown>;
        expect(first).toMatchObject({event: "start", camera: "0800c0000078"});
    });

    it("exits 1 with a message when the service answers an error, and 2 on a usage error", async () => {
        const server = await app();
        const file = await tempFile();
        const failing = io();
        expect(
            await runCaptureCommand(
                ["--camera", "0800c00128F8", "-o", file, "--url", server.baseUrl, "--seconds", "5000"],
                failing.io,
            ),
        ).toBe(1);
        expect(failing.err.join("")).toContain("HTTP 400");
        const usage = io();
        expect(await runCaptureCommand(["-o", file], usage.io)).toBe(2);
        expect(usage.err.join("")).toContain("--camera is required");
        const unreachable = io();
        expect(
            await runCaptureCommand(
                ["--camera", "0800c00128F8", "-o", file, "--url", "http://127.0.0.1:1"],
                unreachable.io,
            ),
        ).toBe(1);
        expect(unreachable.err.join("")).toContain("cannot reach");
    });
});
