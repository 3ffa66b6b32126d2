/**
 * `/metrics` and `/readyz` of the real app (issue 5, "Done when"): the exposition parses as strict
 * Prometheus text and its counters move while a simulated camera streams; `cameras.allow` refusals show.
 */
import {afterEach, describe, expect, it} from "vitest";
import {SimCamera, type SimCameraOptions} from "../../src/simulator/simCamera.js";
import {openMjpeg} from "../support/mjpegClient.js";
import {type PromFamily, parsePrometheusText, sampleValue} from "../support/promText.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const ID = "0800c00128F8";
const STRANGER = "0800c0BAD002";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
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

function camera(server: TestApp, id: string, options: Partial<SimCameraOptions> = {}): SimCamera {
    const sim = new SimCamera({
        id,
        serverHost: "127.0.0.1",
        httpPort: server.ports.cloudHttp,
        fps: 20,
        heartbeatIntervalMs: 1000,
        reconnectDelayMs: 200,
        ...options,
    });
    cleanups.push(() => sim.close({abrupt: true}));
    sim.start();
    return sim;
}

async function scrape(server: TestApp): Promise<Map<string, PromFamily>> {
    const response = await fetch(`${server.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    return parsePrometheusText(await response.text());
}

async function metric(server: TestApp, name: string, labels: Record<string, string> = {}): Promise<number> {
    return sampleValue(await scrape(server), name, labels);
}

describe("/metrics", () => {
    it("parses, and its counters move while a camera streams to a viewer", async () => {
        const server = await app({
            mqtt: {enabled: true, snapshot_interval_s: 0, broker: {port: 0, host: "127.0.0.1"}},
        });
        const idle = await scrape(server);
        expect(sampleValue(idle, "v720_cameras_known")).toBe(0);
        expect(sampleValue(idle, "v720_frames_received_total")).toBe(0);
        expect(idle.get("v720_frames_received_total")?.type).toBe("counter");
        expect(idle.get("v720_viewers")?.type).toBe("gauge");
        expect(sampleValue(idle, "v720_mqtt_enabled")).toBe(1);
        await expect.poll(() => metric(server, "v720_mqtt_connected")).toBe(1);

        // garbage datagrams among the media: counted by kind, never fatal
        camera(server, ID, {faults: {seed: 7, garbageDatagram: 0.3}});
        await expect.poll(() => metric(server, "v720_cameras_online"), {timeout: 10_000}).toBe(1);
        const viewer = await openMjpeg(`${server.baseUrl}/api/cameras/${ID}/stream.mjpeg`);
        cleanups.push(() => viewer.close());
        for (let index = 0; index < 5; index += 1) {
            await viewer.next(10_000);
        }
        const streaming = await scrape(server);
        expect(sampleValue(streaming, "v720_cameras_streaming")).toBe(1);
        expect(sampleValue(streaming, "v720_camera_online", {camera: ID})).toBe(1);
        expect(sampleValue(streaming, "v720_viewers", {output: "mjpeg"})).toBe(1);
        const frames = sampleValue(streaming, "v720_frames_received_total");
        expect(frames).toBeGreaterThanOrEqual(5);
        expect(sampleValue(streaming, "v720_fragments_received_total")).toBeGreaterThan(frames);
        expect(sampleValue(streaming, "v720_confirms_sent_total")).toBeGreaterThan(0);
        expect(sampleValue(streaming, "v720_bootstrap_requests_total", {kind: "getA9ConfCheck"})).toBeGreaterThan(0);

        await expect.poll(() => metric(server, "v720_frames_received_total")).toBeGreaterThan(frames + 5);
        await expect.poll(() => metric(server, "v720_camera_fps", {camera: ID})).toBeGreaterThan(0);
        await expect
            .poll(() => metric(server, "v720_bad_packets_total", {kind: "datagram"}), {timeout: 10_000})
            .toBeGreaterThan(0);
        const sent = sampleValue(await scrape(server), "v720_viewer_frames_sent_total");
        expect(sent).toBeGreaterThanOrEqual(5);
    }, 60_000);

    it("is ready once everything listens and the broker is connected", async () => {
        const server = await app({
            mqtt: {enabled: true, snapshot_interval_s: 0, broker: {port: 0, host: "127.0.0.1"}},
        });
        await expect.poll(async () => (await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
        const body = (await (await fetch(`${server.baseUrl}/readyz`)).json()) as {checks: {name: string}[]};
        expect(body.checks.map((check) => check.name)).toStrictEqual(["http", "camera_server", "mqtt"]);
        expect((await fetch(`http://127.0.0.1:${server.ports.cloudHttp}/readyz`)).status).toBe(200);
    });

    it("counts cameras refused by cameras.allow and never lists them", async () => {
        const server = await app({cameras: {allow: [ID]}});
        camera(server, STRANGER);
        camera(server, ID);
        await expect.poll(() => metric(server, "v720_cameras_refused_total"), {timeout: 10_000}).toBeGreaterThan(0);
        await expect.poll(() => metric(server, "v720_cameras_online"), {timeout: 10_000}).toBe(1);
        const listed = (await (await fetch(`${server.baseUrl}/api/cameras`)).json()) as {id: string}[];
        expect(listed.map((entry) => entry.id)).toStrictEqual([ID]);
    });
});
