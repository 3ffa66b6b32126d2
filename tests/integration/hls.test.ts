/**
 * HLS at /api/cameras/:id/hls/index.m3u8 (issue 4 item 4): ffprobe on the playlist sees H.264 and
 * AAC (decisions.md 13: HLS audio is AAC even when RTSP carries PCMA), segments are ≈1 s with a
 * sliding window, and the files go away when the stream stops. Without ffmpeg the routes answer 503
 * and RTSP is off, while the rest of the app keeps working.
 */
import {access} from "node:fs/promises";
import {afterEach, describe, expect, it} from "vitest";
import {startMedia} from "../../src/app/mediaWiring.js";
import {silentLogger} from "../../src/util/log.js";
import {isCi, type MediaHarness, missingMediaTools, probe, startMediaHarness} from "../support/mediaHarness.js";
import {startTestApp} from "../support/testApp.js";

const missing = missingMediaTools();

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

describe.runIf(missing.length > 0)("HLS with real ffmpeg", () => {
    it(`needs ${missing.join(", ")}`, (context) => {
        if (isCi()) {
            throw new Error(`missing ${missing.join(", ")}; CI must install them (.ci/install-test-deps)`);
        }
        context.skip(`skipped: apt-get install -y ${missing.join(" ")}`);
    });
});

async function harness(): Promise<MediaHarness> {
    const started = await startMediaHarness({
        rtsp: {enabled: false},
        media: {audioCodec: "pcma", stopGraceMs: 300, hls: {enabled: true, idleTimeoutMs: 1500, window: 4}},
    });
    cleanups.push(() => started.stop());
    return started;
}

async function exists(path: string): Promise<boolean> {
    try {
        await access(path);
        return true;
    } catch {
        return false;
    }
}

describe.runIf(missing.length === 0)("HLS with real ffmpeg", {timeout: 60_000}, () => {
    it("serves a live playlist that ffprobe reads as H.264 + AAC, and removes the files after the viewer left", async () => {
        const media = await harness();
        const id = "0800c0000b01";
        media.camera(id, {fps: 10});
        await media.waitOnline(id);
        const playlistUrl = `${media.hlsBaseUrl}/api/cameras/${id}/hls/index.m3u8`;

        const response = await fetch(playlistUrl);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
        const playlist = await response.text();
        expect(playlist).toMatch(/^#EXTM3U/);
        expect(playlist).toMatch(/#EXT-X-TARGETDURATION:[12]\n/); // ≈1 s segments (cut at the 1 s keyframes)
        const segment = /^(seg_\d+\.ts)$/m.exec(playlist)?.[1];
        expect(segment).toBeDefined();
        const segmentResponse = await fetch(`${media.hlsBaseUrl}/api/cameras/${id}/hls/${segment}`);
        expect(segmentResponse.status).toBe(200);
        expect(segmentResponse.headers.get("content-type")).toBe("video/mp2t");
        expect((await segmentResponse.arrayBuffer()).byteLength).toBeGreaterThan(1000);

        const result = await probe(playlistUrl, 2);
        expect(result.codecs, result.stderr).toEqual({video: "h264", audio: "aac"});
        expect(result.videoPackets).toBeGreaterThan(5);

        // a sliding window: after a few more seconds the first segment has left the playlist
        await expect
            .poll(async () => (await (await fetch(playlistUrl)).text()).includes(`${segment}\n`), {
                timeout: 10_000,
                interval: 500,
            })
            .toBe(false);

        const dir = media.media.hub?.hlsDirFor(id);
        expect(dir).toBeDefined();
        expect(await exists(dir ?? "")).toBe(true);
        // no more requests: the lease ends after idleTimeoutMs, the transcoder after stopGraceMs
        await expect.poll(() => media.media.hub?.transcoder(id), {timeout: 8000, interval: 100}).toBeUndefined();
        await expect.poll(() => exists(dir ?? ""), {timeout: 5000}).toBe(false);
        expect((await fetch(`${media.hlsBaseUrl}/api/cameras/${id}/hls/${segment}`)).status).toBe(404);
    });

    it("answers 404 for an unknown camera or file and 405 for other methods", async () => {
        const media = await harness();
        expect((await fetch(`${media.hlsBaseUrl}/api/cameras/0800c0FFFFFF/hls/index.m3u8`)).status).toBe(404);
        expect((await fetch(`${media.hlsBaseUrl}/api/cameras/0800c0FFFFFF/hls/../../etc/passwd`)).status).toBe(404);
        expect((await fetch(`${media.hlsBaseUrl}/api/cameras/0800c0FFFFFF/hls/seg_1.mp4`)).status).toBe(404);
        expect(
            (await fetch(`${media.hlsBaseUrl}/api/cameras/0800c0FFFFFF/hls/index.m3u8`, {method: "POST"})).status,
        ).toBe(405);
    });
});

describe("without ffmpeg", () => {
    it("reports RTSP and HLS unavailable and answers HLS requests with 503", async () => {
        const app = await startTestApp();
        cleanups.push(() => app.stop());
        const media = await startMedia(
            {rtsp: {enabled: true, port: 0, host: "127.0.0.1"}, media: {ffmpegPath: null}},
            {directory: app.cameras.registry, ffmpeg: null},
            silentLogger,
        );
        cleanups.push(() => media.stop());
        expect(media).toMatchObject({rtspPort: undefined, isHlsEnabled: false, ffmpeg: undefined, hub: undefined});
        expect(media.unavailableReason).toContain("no ffmpeg");
        const [routes] = media.routes;
        expect(routes).toBeDefined();
        const res = {
            status: 0,
            body: "",
            headersSent: false,
            writableEnded: false,
            destroyed: false,
            setHeader: () => undefined,
            writeHead(status: number) {
                this.status = status;
                return this;
            },
            end(body: Buffer) {
                this.body = body.toString();
            },
        };
        const handled = routes?.handle({} as never, res as never, {
            method: "GET",
            path: "/api/cameras/x/hls/index.m3u8",
            segments: ["api", "cameras", "x", "hls", "index.m3u8"],
            query: "",
        });
        expect(handled).toBe(true);
        expect(res.status).toBe(503);
        expect(JSON.parse(res.body)).toMatchObject({error: expect.stringContaining("no ffmpeg")});
        // the MJPEG side of the app still answers
        expect((await fetch(`${app.baseUrl}/api/cameras`)).status).toBe(200);
    });
});
