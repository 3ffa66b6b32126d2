import {chmod} from "node:fs/promises";
import {fileURLToPath} from "node:url";
import {beforeAll, describe, expect, it} from "vitest";
import {
    type FfmpegProbe,
    ffmpegFlavor,
    locateFfmpeg,
    parseFfmpegEncoders,
    parseFfmpegVersion,
    probeFfmpeg,
} from "../../../src/media/ffmpegLocator.js";
import {silentLogger} from "../../../src/util/log.js";

const FAKE_FFMPEG = fileURLToPath(new URL("../../support/fakeFfmpeg.mjs", import.meta.url));

beforeAll(async () => {
    await chmod(FAKE_FFMPEG, 0o755);
});

const PROBE: FfmpegProbe = {version: "5.1.9-0+deb12u1", encoders: new Set(["libx264", "aac"])};

/** A probe that only knows `working` paths, recording what it was asked. */
function fakeProbe(working: readonly string[]): {
    probe: (path: string) => Promise<FfmpegProbe | undefined>;
    asked: string[];
} {
    const asked: string[] = [];
    return {
        asked,
        probe: (path) => {
            asked.push(path);
            return Promise.resolve(working.includes(path) ? PROBE : undefined);
        },
    };
}

describe("locateFfmpeg", () => {
    it("prefers media.ffmpeg_path, then FFMPEG_PATH, then ffmpeg-static, then PATH", async () => {
        const {probe, asked} = fakeProbe(["ffmpeg"]);
        const found = await locateFfmpeg(
            {
                configuredPath: "/opt/config/ffmpeg",
                envPath: "/opt/env/ffmpeg",
                importStaticPath: () => Promise.resolve("/node_modules/ffmpeg-static/ffmpeg"),
                isExecutable: () => Promise.resolve(true),
                probe,
            },
            silentLogger,
        );
        expect(asked).toEqual([
            "/opt/config/ffmpeg",
            "/opt/env/ffmpeg",
            "/node_modules/ffmpeg-static/ffmpeg",
            "ffmpeg",
        ]);
        expect(found).toMatchObject({path: "ffmpeg", source: "path", flavor: "modern"});
    });

    it("uses the configured path when it runs", async () => {
        const {probe, asked} = fakeProbe(["/opt/config/ffmpeg", "ffmpeg"]);
        const found = await locateFfmpeg({configuredPath: "/opt/config/ffmpeg", probe}, silentLogger);
        expect(found?.source).toBe("config");
        expect(asked).toEqual(["/opt/config/ffmpeg"]);
    });

    it("skips ffmpeg-static when its binary file does not exist (failed download)", async () => {
        const {probe, asked} = fakeProbe(["ffmpeg"]);
        await locateFfmpeg(
            {
                importStaticPath: () => Promise.resolve("/node_modules/ffmpeg-static/ffmpeg"),
                isExecutable: () => Promise.resolve(false),
                probe,
            },
            silentLogger,
        );
        expect(asked).toEqual(["ffmpeg"]);
    });

    it("works without the ffmpeg-static package installed (the real lazy import fails quietly)", async () => {
        const {probe, asked} = fakeProbe([]);
        const found = await locateFfmpeg({probe}, silentLogger);
        expect(found).toBeUndefined();
        expect(asked).toEqual(["ffmpeg"]);
    });

    it("runs a real binary: version, flavour and encoders from the fake ffmpeg", async () => {
        const found = await locateFfmpeg({configuredPath: FAKE_FFMPEG}, silentLogger);
        expect(found).toMatchObject({path: FAKE_FFMPEG, version: "9.9-fake", flavor: "modern", source: "config"});
        expect([...(found?.encoders ?? [])].sort()).toEqual(["aac", "libx264"]);
    });

    it("reports a missing binary as not runnable", async () => {
        expect(await probeFfmpeg("/nonexistent/ffmpeg")).toBeUndefined();
    });
});

describe("version parsing", () => {
    it.each([
        ["5.1.9-0+deb12u1", "modern"],
        ["6.1.1-3ubuntu5", "modern"],
        ["n7.0.2", "modern"],
        ["7.1-static", "modern"],
        ["5.0.3", "legacy"],
        ["4.1", "legacy"],
        ["N-47683-g0e8eb07980-static", "legacy"],
    ] as const)("%s is %s", (version, flavor) => {
        expect(ffmpegFlavor(version)).toBe(flavor);
    });

    it("reads the banner's version word", () => {
        expect(parseFfmpegVersion("ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026\n")).toBe("5.1.9-0+deb12u1");
        expect(parseFfmpegVersion("avconv version 12\n")).toBeUndefined();
    });

    it("lists encoders but not the legend", () => {
        const text = [
            "Encoders:",
            " V..... = Video",
            " A..... = Audio",
            " ------",
            " V....D libx264              libx264 H.264",
            " A..... libopus              libopus Opus",
            " A....D pcm_alaw             PCM A-law",
        ].join("\n");
        expect([...parseFfmpegEncoders(text)]).toEqual(["libx264", "libopus", "pcm_alaw"]);
    });
});
