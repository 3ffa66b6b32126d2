/**
 * Issue 6 items 2, 4 and 6 through the real app (all listeners on 127.0.0.1, port 0): the
 * "classic-2024" simulator (getDevInfo, then getA9ConfCheck, strict HTTP reading, `udpPlayBack` and
 * a non-ASCII Wi-Fi name in 301{4}) streams; a 301{4} reply that is not valid UTF-8 keeps the camera
 * up with U+FFFD in its base info; one that is not JSON at all does not keep 301{3} from starting media;
 * family and firmware are part of the API JSON; firmware versions reach GET /api/diagnostics.
 */
import {afterEach, describe, expect, it} from "vitest";
import {SimCamera, type SimCameraOptions} from "../../src/simulator/simCamera.js";
import {readSimFrameCounter} from "../../src/simulator/syntheticJpeg.js";
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
        heartbeatIntervalMs: 1000,
        reconnectDelayMs: 100,
        sentFrameLogSize: 200,
        ...options,
    });
    cleanups.push(() => sim.close({abrupt: true}));
    sim.start();
    return sim;
}

async function cameraJson(server: TestApp, id: string): Promise<Record<string, unknown>> {
    const response = await fetch(`${server.baseUrl}/api/cameras/${id}`);
    return (await response.json()) as Record<string, unknown>;
}

async function waitOnline(server: TestApp, id: string): Promise<void> {
    await expect.poll(async () => (await cameraJson(server, id))["online"], {timeout: 10_000}).toBe(true);
}

async function viewer(server: TestApp, id: string): Promise<MjpegClient> {
    const client = await openMjpeg(`${server.baseUrl}/api/cameras/${id}/stream.mjpeg`);
    cleanups.push(() => client.close());
    return client;
}

/** Reads `count` parts, each byte-identical to a frame the camera sent. */
async function expectFrames(sim: SimCamera, client: MjpegClient, count: number): Promise<void> {
    for (let index = 0; index < count; index += 1) {
        const part = await client.next(10_000);
        const counter = readSimFrameCounter(part.data) ?? -1;
        expect(part.data.equals(sim.sentFrames.get(counter) ?? Buffer.alloc(0)), `frame ${counter}`).toBe(true);
    }
}

describe("newer classic firmware (simulator personality classic-2024)", () => {
    it("calls getDevInfo, then getA9ConfCheck, streams, and shows its non-ASCII Wi-Fi name in the API", async () => {
        const server = await app();
        const id = "0800c0024ABC";
        const sim = camera(server, id, {personality: "classic-2024"});
        await waitOnline(server, id);
        expect(sim.devInfoRequests).toBe(1);
        expect(sim.devInfo?.userInfoState).toBe(1);
        expect(sim.devInfo?.data).toMatchObject({uid: id, tcpPort: server.ports.tcp, host: "127.0.0.1"});
        expect([
            sim.devInfo?.data["ota_url"],
            sim.devInfo?.data["updateUrl"],
            sim.devInfo?.data["version"],
        ]).toStrictEqual([null, null, null]);

        const client = await viewer(server, id);
        await expectFrames(sim, client, 10);
        const json = await cameraJson(server, id);
        expect(json).toMatchObject({
            family: "classic",
            model: "A9-4",
            firmware: "202412061749",
            streaming: true,
            baseInfo: {code: 4, wifiName: "Café-Wohnzimmer 📶", udpPlayBack: 1, version: "202412061749"},
        });

        const diagnostics = (await (await fetch(`${server.baseUrl}/api/diagnostics`)).json()) as {
            bootstrapCounts: Record<string, number>;
            firmwareVersions: {version: string; sources: string[]}[];
        };
        expect(diagnostics.bootstrapCounts).toMatchObject({getDevInfo: 1, getA9ConfCheck: 1});
        expect(diagnostics.firmwareVersions).toContainEqual(
            expect.objectContaining({version: "202412061749", sources: ["code4", "http"]}),
        );
    });

    it("[quirk] keeps a camera whose 301{4} reply is not valid UTF-8: base info kept with U+FFFD", async () => {
        const server = await app();
        const id = "0800c0024ABD";
        const sim = camera(server, id, {personality: "classic-2024", baseInfoReply: "invalid-utf8"});
        await waitOnline(server, id);
        const client = await viewer(server, id);
        await expectFrames(sim, client, 5);
        await expect.poll(async () => (await cameraJson(server, id))["baseInfo"]).not.toBeNull();
        const json = await cameraJson(server, id);
        const wifiName = (json["baseInfo"] as {wifiName: string}).wifiName;
        // "Café-Wohnzimmer 📶" written one byte per UTF-16 unit: E9 and F6 are not UTF-8
        expect(wifiName).toBe("Caf\uFFFD-Wohnzimmer =\uFFFD");
        expect(json).toMatchObject({online: true, streaming: true, firmware: "202412061749"});
        expect(sim.stats.disconnects).toBe(0);
    });

    it("[quirk] streams although the camera's 301{4} reply is not JSON (301{3} does not wait for it)", async () => {
        const server = await app();
        const id = "0800c0024ABE";
        const sim = camera(server, id, {personality: "classic-2024", baseInfoReply: "invalid-json"});
        await waitOnline(server, id);
        const client = await viewer(server, id);
        await expectFrames(sim, client, 10);
        const json = await cameraJson(server, id);
        expect(json).toMatchObject({online: true, streaming: true, baseInfo: null});
        expect(server.cameras.registry.stats().badTcpMessages).toBeGreaterThanOrEqual(1);
        expect(sim.stats.disconnects).toBe(0);
    });

    it("shows the family of an id from the MQTT-first prefixes, whatever its case", async () => {
        const server = await app();
        camera(server, "5c00200204AB");
        camera(server, "0800c00128F8", {personality: "classic-2024"});
        await waitOnline(server, "5c00200204AB");
        await waitOnline(server, "0800c00128F8");
        const list = (await (await fetch(`${server.baseUrl}/api/cameras`)).json()) as Record<string, unknown>[];
        const byId = Object.fromEntries(list.map((entry) => [entry["id"], [entry["family"], entry["model"]]]));
        expect(byId).toStrictEqual({"5c00200204AB": ["mqtt-first", "CloudIpc"], "0800c00128F8": ["classic", "A9-4"]});
    });
});
