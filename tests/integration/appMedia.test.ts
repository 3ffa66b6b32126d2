/**
 * RTSP and HLS through the composition root: the app starts the media layer, lists the stream URLs,
 * and a real ffprobe plays a simulated camera over the app's own RTSP server (issue 4, wiring).
 */
import {afterEach, describe, expect, it} from "vitest";
import {SimCamera} from "../../src/simulator/simCamera.js";
import {isCi, missingMediaTools, probe} from "../support/mediaHarness.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const missing = missingMediaTools();
if (missing.length > 0 && isCi()) {
    throw new Error(`media tests need ${missing.join(", ")} under CI (bash .ci/install-test-deps)`);
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

const ID = "0800c0000A01";

async function appWithCamera(): Promise<TestApp> {
    const app = await startTestApp({
        rtsp: {enabled: true, port: 0, host: "127.0.0.1"},
        media: {stop_grace_ms: 500},
    });
    cleanups.push(() => app.stop());
    const sim = new SimCamera({id: ID, serverHost: "127.0.0.1", httpPort: app.ports.cloudHttp, fps: 10});
    cleanups.push(() => sim.close({abrupt: true}));
    sim.start();
    await expect
        .poll(async () => (await fetch(`${app.baseUrl}/api/cameras/${ID}`)).status, {timeout: 10_000})
        .toBe(200);
    return app;
}

describe.skipIf(missing.length > 0)(
    `app media wiring${missing.length > 0 ? ` (skipped: ${missing.join(", ")} missing)` : ""}`,
    () => {
        it("lists RTSP and HLS URLs and serves H.264 + AAC over the app's RTSP server", async () => {
            const app = await appWithCamera();
            const json = (await (await fetch(`${app.baseUrl}/api/cameras/${ID}`)).json()) as {
                urls: {rtsp: string | null; hls: string | null};
            };
            expect(json.urls.rtsp).toMatch(new RegExp(`^rtsp://127\\.0\\.0\\.1:\\d+/${ID}$`));
            expect(json.urls.hls).toBe(`${app.baseUrl}/api/cameras/${ID}/hls/index.m3u8`);
            const result = await probe(json.urls.rtsp ?? "", 3, "tcp");
            expect(result.codecs).toEqual({video: "h264", audio: "aac"});
            expect(result.videoPackets).toBeGreaterThan(5);
        });
    },
);
