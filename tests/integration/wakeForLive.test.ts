/**
 * Issue 6 item 3 ("wake for live") and item 6 (the MQTT-first simulator) through the real app with its
 * embedded camera broker (all listeners on 127.0.0.1, port 0, short waits from config, decisions.md 18):
 * an MQTT-first camera idles on MQTT and is shown as online, stream idle, "wakes on demand"; a viewer
 * makes the bridge publish the 240 wake (candidate 1 by default), the camera opens TCP, streams, and
 * goes back to sleep after the viewer leaves; a camera that never answers gets a 504 JSON reply and
 * leaves nothing behind while another camera keeps streaming; errStatus is surfaced; the wake API
 * sends any candidate, rate-limited; the Home Assistant live-stream switch wakes it too.
 */
import {request} from "node:http";
import {afterEach, describe, expect, it} from "vitest";
import {MqttFirstCamera, type MqttFirstCameraOptions} from "../../src/simulator/mqttFirstCamera.js";
import {SimCamera} from "../../src/simulator/simCamera.js";
import {readSimFrameCounter} from "../../src/simulator/syntheticJpeg.js";
import {type MjpegClient, openMjpeg} from "../support/mjpegClient.js";
import {readRetained, readRetainedJson, TestMqttClient} from "../support/mqttHarness.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

const WAKE_TIMEOUT_MS = 1500;
const MIN_INTERVAL_MS = 400;

async function appWithBroker(): Promise<{app: TestApp; brokerUrl: string}> {
    const app = await startTestApp({
        cloud: {stop_grace_ms: 200},
        http: {snapshot_timeout_ms: 1000},
        mqtt: {enabled: true, snapshot_interval_s: 0, broker: {port: 0, host: "127.0.0.1"}},
        cameras: {wake: {timeout_ms: WAKE_TIMEOUT_MS, min_interval_ms: MIN_INTERVAL_MS}},
    });
    cleanups.push(() => app.stop());
    return {app, brokerUrl: `mqtt://127.0.0.1:${app.ports.mqttBroker}`};
}

async function mqttFirst(
    app: TestApp,
    brokerUrl: string,
    id: string,
    options: Partial<MqttFirstCameraOptions> = {},
): Promise<MqttFirstCamera> {
    const camera = new MqttFirstCamera({
        id,
        serverHost: "127.0.0.1",
        httpPort: app.ports.cloudHttp,
        brokerUrl,
        fps: 20,
        heartbeatIntervalMs: 500,
        idleDisconnectMs: 300,
        sentFrameLogSize: 200,
        ...options,
    });
    cleanups.push(() => camera.stop());
    await camera.start();
    return camera;
}

async function cameraJson(app: TestApp, id: string): Promise<Record<string, unknown>> {
    const response = await fetch(`${app.baseUrl}/api/cameras/${id}`);
    return (await response.json()) as Record<string, unknown>;
}

async function expectFrames(sim: SimCamera, client: MjpegClient, count: number): Promise<void> {
    for (let index = 0; index < count; index += 1) {
        const part = await client.next(10_000);
        const counter = readSimFrameCounter(part.data) ?? -1;
        expect(part.data.equals(sim.sentFrames.get(counter) ?? Buffer.alloc(0)), `frame ${counter}`).toBe(true);
    }
}

/** GET that keeps status, content type and body, whatever the status (an MJPEG URL answered with JSON). */
function get(url: string): Promise<{status: number; contentType: string; body: Record<string, unknown>}> {
    return new Promise((resolve, reject) => {
        const req = request(url, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                try {
                    resolve({
                        status: res.statusCode ?? 0,
                        contentType: res.headers["content-type"] ?? "",
                        body: JSON.parse(text) as Record<string, unknown>,
                    });
                } catch (error) {
                    reject(new Error(`${res.statusCode}: not JSON: ${text.slice(0, 80)}`, {cause: error}));
                }
            });
        });
        req.on("error", reject);
        req.end();
    });
}

function postWake(app: TestApp, id: string, body: unknown): Promise<Response> {
    return fetch(`${app.baseUrl}/api/cameras/${id}/wake`, {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(body),
    });
}

describe("wake for live (MQTT-first cameras)", () => {
    it("shows an idle MQTT-first camera, wakes it for an MJPEG viewer, and lets it sleep again", async () => {
        const {app, brokerUrl} = await appWithBroker();
        const id = "5c00200204AB";
        const camera = await mqttFirst(app, brokerUrl, id, {wakeRequires: ["host", "tcpPort", "pwd"]});
        await expect
            .poll(() => cameraJson(app, id), {timeout: 10_000})
            .toMatchObject({
                online: true,
                tcpOnline: false,
                mqttOnline: true,
                streamState: "idle",
                wake: "on-demand",
                wakeState: "asleep",
                family: "mqtt-first",
                model: "CloudIpc",
                firmware: "202411152039",
            });
        const listed = (await (await fetch(`${app.baseUrl}/api/cameras`)).json()) as {id: string}[];
        expect(listed.map((entry) => entry.id)).toContain(id);
        expect(camera.sim.stats.connects).toBe(0);
        expect(camera.sim.devInfoRequests).toBe(1);

        // Home Assistant: available (not failed), with the family, model and firmware in the device info
        await expect
            .poll(async () =>
                (await readRetained(brokerUrl, `v720/${id}/availability`)).get(`v720/${id}/availability`)?.toString(),
            )
            .toBe("online");
        await expect
            .poll(
                async () =>
                    (await readRetainedJson(brokerUrl, `homeassistant/device/${id}/config`)).get(
                        `homeassistant/device/${id}/config`,
                    )?.["device"],
                {timeout: 10_000},
            )
            .toMatchObject({model: "CloudIpc (MQTT-first)", sw_version: "202411152039"});
        const state = (await readRetainedJson(brokerUrl, `v720/${id}/state`)).get(`v720/${id}/state`);
        expect(state).toMatchObject({online: true, tcp_online: false, wake: "on-demand", family: "mqtt-first"});

        const client = await openMjpeg(`${app.baseUrl}/api/cameras/${id}/stream.mjpeg`);
        cleanups.push(() => client.close());
        await expectFrames(camera.sim, client, 10);
        expect(camera.wakesReceived).toHaveLength(1);
        expect(camera.wakesReceived[0]).toStrictEqual({
            code: 240,
            host: "127.0.0.1",
            tcpPort: app.ports.tcp,
            uid: id,
            pwd: expect.stringMatching(/^[0-9a-f]{8}$/),
            domain: "v720.naxclow.com",
            isBind: "8",
            currTime: expect.stringMatching(/^\d+$/),
            updateUrl: null,
            version: null,
        });
        expect(await cameraJson(app, id)).toMatchObject({
            tcpOnline: true,
            streaming: true,
            wakeState: "awake",
            lastWakeTemplate: "candidate1",
        });

        client.close();
        await expect.poll(() => camera.sim.isAsleep, {timeout: 10_000}).toBe(true);
        await expect
            .poll(() => cameraJson(app, id), {timeout: 10_000})
            .toMatchObject({online: true, tcpOnline: false, streamState: "idle", wakeState: "asleep", consumers: 0});
        expect(camera.sim.stats.connects).toBe(1);
        expect(camera.wakesReceived).toHaveLength(1);
    });

    it("answers 504 with a JSON reason for a camera that never wakes, and stays healthy", async () => {
        const {app, brokerUrl} = await appWithBroker();
        const deaf = await mqttFirst(app, brokerUrl, "5600000000AA", {answersWake: false});
        const classic = new SimCamera({
            id: "0800c0000B01",
            serverHost: "127.0.0.1",
            httpPort: app.ports.cloudHttp,
            fps: 20,
            heartbeatIntervalMs: 500,
            sentFrameLogSize: 200,
        });
        cleanups.push(() => classic.close({abrupt: true}));
        classic.start();
        await expect.poll(() => cameraJson(app, deaf.id), {timeout: 10_000}).toMatchObject({wakeState: "asleep"});

        // a snapshot and an MJPEG viewer at once: one wake, both get 504 JSON (MJPEG before any header)
        const [snapshot, mjpeg] = await Promise.all([
            get(`${app.baseUrl}/api/cameras/${deaf.id}/snapshot.jpg`),
            get(`${app.baseUrl}/api/cameras/${deaf.id}/stream.mjpeg`),
        ]);
        for (const reply of [snapshot, mjpeg]) {
            expect(reply.status).toBe(504);
            expect(reply.contentType).toContain("application/json");
            expect(reply.body).toMatchObject({
                error: "camera did not wake up in time",
                camera: deaf.id,
                reason: expect.stringMatching(/^wake-timeout: no TCP registration within 1500 ms/),
            });
        }
        expect(deaf.wakesReceived).toHaveLength(1);
        expect(deaf.sim.stats.connects).toBe(0);
        expect(await cameraJson(app, deaf.id)).toMatchObject({
            online: true,
            wakeState: "no-answer",
            consumers: 0,
            streamState: "idle",
        });

        // healthy: /healthz, and another camera streams
        expect(await (await fetch(`${app.baseUrl}/healthz`)).json()).toStrictEqual({status: "ok"});
        await expect.poll(() => cameraJson(app, classic.id), {timeout: 10_000}).toMatchObject({tcpOnline: true});
        const client = await openMjpeg(`${app.baseUrl}/api/cameras/${classic.id}/stream.mjpeg`);
        cleanups.push(() => client.close());
        await expectFrames(classic, client, 5);
        expect(app.cameras.registry.get(deaf.id)).toBeUndefined();
    });

    it("surfaces errStatus and ends the wait early when the camera answers the wake with one", async () => {
        const {app, brokerUrl} = await appWithBroker();
        const camera = await mqttFirst(app, brokerUrl, "600000000001", {
            answersWake: false,
            errStatusOnIgnoredWake: 2,
        });
        await expect.poll(() => cameraJson(app, camera.id), {timeout: 10_000}).toMatchObject({errStatus: null});
        const started = performance.now();
        const reply = await get(`${app.baseUrl}/api/cameras/${camera.id}/stream.mjpeg`);
        expect(performance.now() - started).toBeLessThan(WAKE_TIMEOUT_MS);
        expect(reply).toMatchObject({
            status: 503,
            body: {error: "camera refused the wake", reason: "wake-refused: errStatus 2 (connection timed out)"},
        });
        expect(await cameraJson(app, camera.id)).toMatchObject({errStatus: 2, model: "monitor2"});
        await expect
            .poll(async () =>
                (await readRetainedJson(brokerUrl, `v720/${camera.id}/state`)).get(`v720/${camera.id}/state`),
            )
            .toMatchObject({err_status: 2});
    });

    it("sends any candidate over the API, rate-limited, and a camera that understands it wakes", async () => {
        const {app, brokerUrl} = await appWithBroker();
        const id = "5b0000000C01";
        const camera = await mqttFirst(app, brokerUrl, id, {wakeRequires: ["host", "tcpPort"]});
        await expect.poll(() => cameraJson(app, id), {timeout: 10_000}).toMatchObject({wakeState: "asleep"});

        const bare = await postWake(app, id, {template: "candidate3"});
        expect(bare.status).toBe(200);
        expect(await bare.json()).toStrictEqual({ok: true, camera: id, template: "candidate3", payload: {code: 240}});
        const tooSoon = await postWake(app, id, {template: "candidate2"});
        expect(tooSoon.status).toBe(429);
        expect(Number(tooSoon.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        await expect.poll(() => camera.wakesReceived.length).toBe(1);
        expect(camera.sim.isAsleep).toBe(true); // candidate 3 lacks host/tcpPort: this camera ignores it

        expect((await postWake(app, id, {template: "candidate9"})).status).toBe(400);
        expect((await postWake(app, "0800c0FFFFFF", {})).status).toBe(404);
        const plain = await fetch(`${app.baseUrl}/api/cameras/${id}/wake`, {method: "POST", body: "{}"});
        expect(plain.status).toBe(415);

        await expect
            .poll(
                async () =>
                    (
                        await postWake(app, id, {
                            template: "custom",
                            payload: {code: 240, host: "{{host}}", tcpPort: "{{tcpPort}}", pwd: "{{pwd}}"},
                        })
                    ).status,
            )
            .toBe(200);
        await expect.poll(() => cameraJson(app, id), {timeout: 10_000}).toMatchObject({tcpOnline: true});
        expect(camera.wakesReceived.at(-1)).toMatchObject({
            code: 240,
            host: "127.0.0.1",
            tcpPort: String(app.ports.tcp),
        });
        // no viewer: the camera goes back to sleep by itself
        await expect.poll(() => camera.sim.isAsleep, {timeout: 10_000}).toBe(true);
    });

    it("wakes the camera for the Home Assistant live-stream switch", async () => {
        const {app, brokerUrl} = await appWithBroker();
        const id = "5600000000BB";
        const camera = await mqttFirst(app, brokerUrl, id);
        await expect
            .poll(
                async () => {
                    const discovery = (await readRetainedJson(brokerUrl, `homeassistant/device/${id}/config`)).get(
                        `homeassistant/device/${id}/config`,
                    );
                    return Object.keys((discovery?.["cmps"] ?? {}) as Record<string, unknown>);
                },
                {timeout: 10_000},
            )
            .toContain("live_stream");
        const ha = await TestMqttClient.connect(brokerUrl);
        cleanups.push(() => ha.end());
        await ha.publish(`v720/${id}/live_stream/set`, "ON", {qos: 1});
        await expect.poll(() => camera.sim.isStreaming, {timeout: 10_000}).toBe(true);
        expect(camera.wakesReceived).toHaveLength(1);
        await ha.publish(`v720/${id}/live_stream/set`, "OFF", {qos: 1});
        await expect.poll(() => camera.sim.isAsleep, {timeout: 10_000}).toBe(true);
    });
});
