/** MediaHub leases: one transcoder per camera, started on the first lease, stopped a grace after the last. */
import {chmod, mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {afterEach, beforeAll, describe, expect, it} from "vitest";
import {MediaHub, type MediaHubOptions} from "../../../src/media/mediaHub.js";
import type {CameraDirectory, CameraView, SubscribeResult} from "../../../src/model/camera.js";
import type {MediaConsumer} from "../../../src/model/media.js";
import {silentLogger} from "../../../src/util/log.js";

const FAKE_FFMPEG = fileURLToPath(new URL("../../support/fakeFfmpeg.mjs", import.meta.url));

beforeAll(async () => {
    await chmod(FAKE_FFMPEG, 0o755);
});

class FakeDirectory implements CameraDirectory {
    readonly consumers = new Set<MediaConsumer>();
    list(): CameraView[] {
        return [];
    }
    get(id: string): CameraView | undefined {
        return id.startsWith("cam") ? ({id} as CameraView) : undefined;
    }
    subscribe(id: string, consumer: MediaConsumer): SubscribeResult {
        if (this.get(id) === undefined) {
            return {ok: false, reason: "unknown-camera"};
        }
        this.consumers.add(consumer);
        return {ok: true, subscription: {close: () => this.consumers.delete(consumer)}};
    }
    latestFrame(): undefined {
        return undefined;
    }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

async function hub(options: Partial<MediaHubOptions> = {}): Promise<{hub: MediaHub; directory: FakeDirectory}> {
    const directory = new FakeDirectory();
    const hlsRoot = await mkdtemp(join(tmpdir(), "v720-hub-"));
    const created = new MediaHub(
        {
            transcoder: {
                ffmpegPath: FAKE_FFMPEG,
                flavor: "modern",
                video: {preset: "ultrafast", keyframeIntervalS: 1, bitrateKbps: 0, crf: 23},
                audio: "aac",
                maxQueuedBytes: 1 << 20,
                restartInitialDelayMs: 100,
                restartMaxDelayMs: 200,
                killTimeoutMs: 200,
                logLevel: "warning",
            },
            stopGraceMs: 150,
            hlsRoot,
            hlsSegmentSeconds: 1,
            hlsWindow: 3,
            hlsIdleTimeoutMs: 200,
            hlsStartTimeoutMs: 300,
            ...options,
        },
        directory,
        silentLogger,
    );
    cleanups.push(async () => {
        await created.stop();
        await rm(hlsRoot, {recursive: true, force: true});
    });
    return {hub: created, directory};
}

describe("MediaHub", () => {
    it("refuses an unknown camera", async () => {
        const {hub: media} = await hub();
        expect(media.openEncoded("nope", {})).toEqual({ok: false, reason: "unknown-camera"});
        expect(await media.openHls("nope")).toEqual({ok: false, reason: "unknown-camera"});
        expect(media.activeCameras()).toEqual([]);
    });

    it("starts one transcoder for several leases and stops it a grace after the last one", async () => {
        const {hub: media, directory} = await hub();
        const first = media.openEncoded("cam1", {});
        const second = media.openEncoded("cam1", {});
        expect(first.ok && second.ok).toBe(true);
        expect(media.activeCameras()).toEqual(["cam1"]);
        await expect.poll(() => media.transcoder("cam1")?.pid).toBeTypeOf("number");
        expect(directory.consumers.size).toBe(1);
        if (first.ok) {
            first.handle.close();
            first.handle.close(); // idempotent
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(media.transcoder("cam1"), "one lease is left").toBeDefined();
        if (second.ok) {
            second.handle.close();
        }
        await expect.poll(() => media.transcoder("cam1"), {timeout: 2000}).toBeUndefined();
        await expect.poll(() => directory.consumers.size, {timeout: 2000}).toBe(0);
    });

    it("keeps the transcoder when a new lease comes within the grace", async () => {
        const {hub: media} = await hub({stopGraceMs: 400});
        const first = media.openEncoded("cam1", {});
        const transcoder = media.transcoder("cam1");
        if (first.ok) {
            first.handle.close();
        }
        const again = media.openEncoded("cam1", {});
        await new Promise((resolve) => setTimeout(resolve, 600));
        expect(media.transcoder("cam1")).toBe(transcoder);
        if (again.ok) {
            again.handle.close();
        }
    });

    it("times out an HLS request whose playlist never appears, and the HLS lease then lapses", async () => {
        const {hub: media} = await hub();
        expect(await media.openHls("cam1")).toEqual({ok: false, reason: "timeout"});
        expect(media.transcoder("cam1")).toBeDefined();
        await expect.poll(() => media.transcoder("cam1"), {timeout: 3000}).toBeUndefined();
    });

    it("ends its consumers and the transcoder when the camera goes away for good", async () => {
        const {hub: media, directory} = await hub();
        const ends: string[] = [];
        media.openEncoded("cam1", {onEnd: (reason) => ends.push(reason)});
        await expect.poll(() => directory.consumers.size).toBe(1);
        for (const consumer of directory.consumers) {
            consumer.onEnd?.("forgotten");
        }
        expect(ends).toEqual(["forgotten"]);
        await expect.poll(() => media.transcoder("cam1"), {timeout: 2000}).toBeUndefined();
    });

    it("answers unavailable after stop()", async () => {
        const {hub: media} = await hub();
        await media.stop();
        expect(media.openEncoded("cam1", {})).toEqual({ok: false, reason: "unavailable"});
    });
});
