/**
 * The whole fake cloud against the device simulator over real loopback sockets (issue 2, "Done when"):
 * bootstrap → register → on-demand handshake → UDP media → MJPEG viewers, with faults.
 */
import {afterEach, describe, expect, it} from "vitest";
import {SimCamera, type SimCameraOptions, type SimCamera as SimCameraType} from "../../src/simulator/simCamera.js";
import {readSimFrameCounter} from "../../src/simulator/syntheticJpeg.js";
import {type MjpegClient, openMjpeg} from "../support/mjpegClient.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

async function app(overrides: Record<string, Record<string, unknown>> = {}): Promise<TestApp> {
    const started = await startTestApp(overrides);
    cleanups.push(() => started.stop());
    return started;
}

function camera(server: TestApp, id: string, options: Partial<SimCameraOptions> = {}): SimCameraType {
    const sim = new SimCamera({
        id,
        serverHost: "127.0.0.1",
        httpPort: server.ports.cloudHttp,
        fps: 20,
        heartbeatIntervalMs: 1000,
        reconnectDelayMs: 100,
        sentFrameLogSize: 400,
        ...options,
    });
    cleanups.push(() => sim.close({abrupt: true}));
    sim.start();
    return sim;
}

async function cameraJson(server: TestApp, id: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${server.baseUrl}/api/cameras/${id}`);
    return (await res.json()) as Record<string, unknown>;
}

async function waitOnline(server: TestApp, id: string, online = true): Promise<void> {
    await expect.poll(async () => (await cameraJson(server, id))["online"], {timeout: 10_000}).toBe(online);
}

async function viewer(server: TestApp, id: string): Promise<MjpegClient> {
    const client = await openMjpeg(`${server.baseUrl}/api/cameras/${id}/stream.mjpeg`);
    cleanups.push(() => client.close());
    return client;
}

/** Reads `count` parts and checks each is byte-identical to a frame the camera sent. Returns the counters seen. */
async function expectIdenticalFrames(sim: SimCameraType, client: MjpegClient, count: number): Promise<number[]> {
    const counters: number[] = [];
    for (let i = 0; i < count; i++) {
        const part = await client.next(10_000);
        const counter = readSimFrameCounter(part.data);
        expect(counter, "every part is a simulator frame").toBeTypeOf("number");
        const sent = sim.sentFrames.get(counter ?? -1);
        expect(sent, `frame ${counter} was sent by the camera`).toBeDefined();
        expect(part.data.equals(sent ?? Buffer.alloc(0)), `frame ${counter} is byte-identical`).toBe(true);
        counters.push(counter ?? -1);
    }
    expect(client.errors).toEqual([]);
    return counters;
}

describe("fake cloud end to end", () => {
    it("bootstraps, registers, streams on demand and delivers byte-identical frames at the camera's rate", async () => {
        const server = await app();
        const sim = camera(server, "0800c00128F8", {firmware: "202212011602"});
        await waitOnline(server, "0800c00128F8");
        const idle = await cameraJson(server, "0800c00128F8");
        expect(idle["streamState"]).toBe("idle");
        expect(idle["firmware"], "firmware from the bootstrap version header").toBe("202212011602");
        expect(sim.isStreaming).toBe(false);

        const client = await viewer(server, "0800c00128F8");
        const startedAt = performance.now();
        const counters = await expectIdenticalFrames(sim, client, 40);
        const elapsedS = (performance.now() - startedAt) / 1000;
        // 20 fps camera: 40 frames must not take more than twice the nominal 2 s (generous; exact rates are for the bench)
        expect(elapsedS).toBeLessThan(4);
        expect(new Set(counters).size).toBe(40);
        expect(counters).toEqual([...counters].sort((a, b) => a - b));

        const json = await cameraJson(server, "0800c00128F8");
        expect(json["streaming"]).toBe(true);
        expect(json["firmware"]).toBe("202212011602");
        expect(json["baseInfo"]).toMatchObject({version: "202212011602"});
        expect(json["fps"]).toBeGreaterThan(5);
    });

    it("stops the camera's stream after the last viewer leaves", async () => {
        const server = await app({cloud: {stop_grace_ms: 200}});
        const sim = camera(server, "0800c0000001");
        await waitOnline(server, "0800c0000001");
        const client = await viewer(server, "0800c0000001");
        await expectIdenticalFrames(sim, client, 5);
        const stopped = new Promise<void>((resolve) => sim.once("streamStopped", () => resolve()));
        client.close();
        await stopped;
        await expect.poll(async () => (await cameraJson(server, "0800c0000001"))["streamState"]).toBe("idle");
    });

    it("streams 20 cameras at once, each to its own viewer, with no corrupt frame", async () => {
        const server = await app();
        const ids = Array.from(
            {length: 20},
            (_, i) => `0800c0${(0x100 + i).toString(16).toUpperCase().padStart(6, "0")}`,
        );
        const sims = ids.map((id) => camera(server, id, {fps: 10}));
        await Promise.all(ids.map((id) => waitOnline(server, id)));
        const clients = await Promise.all(ids.map((id) => viewer(server, id)));
        await Promise.all(sims.map((sim, i) => expectIdenticalFrames(sim, clients[i] as MjpegClient, 15)));
    });

    it("never delivers a corrupt frame with 5 % fragment loss, duplicates and reordering", async () => {
        const server = await app();
        const sim = camera(server, "0800c0000002", {
            faults: {
                fragmentLoss: 0.05,
                duplicate: 0.05,
                reorder: 0.2,
                garbageDatagram: 0.1,
                udpLengthLie: 0.1,
                seed: 7,
            },
        });
        await waitOnline(server, "0800c0000002");
        const client = await viewer(server, "0800c0000002");
        await expectIdenticalFrames(sim, client, 30);
        const json = await cameraJson(server, "0800c0000002");
        expect(json["framesDropped"]).toBeGreaterThan(0);
    });

    it("streams although the camera's 51s were lost: the server re-sends a 50 instead of waiting for the stall restart", async () => {
        const server = await app();
        const sim = camera(server, "0800c0000005", {faults: {lostProbes: 2}}); // both unprompted 51s
        await waitOnline(server, "0800c0000005");
        const client = await viewer(server, "0800c0000005");
        await expectIdenticalFrames(sim, client, 5);
        expect(sim.stats.faults.lostProbes).toBe(2);
        const stats = server.cameras.registry.stats();
        expect(stats.probeRetries).toBeGreaterThanOrEqual(1);
        expect(stats.streamRestarts).toBe(0);
    });

    it("marks a camera that disconnects offline and back online when it reconnects", async () => {
        const server = await app({cloud: {heartbeat_timeout_ms: 3000}});
        const sim = camera(server, "0800c0000003", {reconnectDelayMs: 500});
        await waitOnline(server, "0800c0000003");
        sim.dropConnection();
        await waitOnline(server, "0800c0000003", false);
        await waitOnline(server, "0800c0000003", true);
        const client = await viewer(server, "0800c0000003");
        await expectIdenticalFrames(sim, client, 5);
    });

    it("keeps a viewer streaming while another viewer of the same camera has stalled", async () => {
        const server = await app();
        const sim = camera(server, "0800c0000004", {fps: 25});
        await waitOnline(server, "0800c0000004");
        const stalled = await viewer(server, "0800c0000004");
        stalled.pause();
        const healthy = await viewer(server, "0800c0000004");
        const counters = await expectIdenticalFrames(sim, healthy, 60);
        // the healthy viewer saw a contiguous run of frames: nothing was held back for the stalled one
        const gaps = counters.slice(1).filter((counter, i) => counter - (counters[i] ?? 0) > 1).length;
        expect(gaps).toBeLessThan(5);
        expect(stalled.partsReceived).toBeLessThan(60);
    });

    it("answers a snapshot by waking the stream", async () => {
        const server = await app();
        const sim = camera(server, "0800c0000005");
        await waitOnline(server, "0800c0000005");
        const res = await fetch(`${server.baseUrl}/api/cameras/0800c0000005/snapshot.jpg`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe("image/jpeg");
        const body = Buffer.from(await res.arrayBuffer());
        const counter = readSimFrameCounter(body);
        expect(body.equals(sim.sentFrames.get(counter ?? -1) ?? Buffer.alloc(0))).toBe(true);
    });

    it("lists cameras on the original fake server's /dev/list alias", async () => {
        const server = await app();
        camera(server, "0800c0000006");
        await waitOnline(server, "0800c0000006");
        const list = (await (await fetch(`${server.baseUrl}/dev/list`)).json()) as {uid: string; host: string}[];
        expect(list).toEqual([expect.objectContaining({uid: "0800c0000006", host: "127.0.0.1"})]);
        const unknown = await fetch(`${server.baseUrl}/api/cameras/0800c0FFFFFF`);
        expect(unknown.status).toBe(404);
        expect(await unknown.json()).toMatchObject({error: expect.any(String)});
    });
});
