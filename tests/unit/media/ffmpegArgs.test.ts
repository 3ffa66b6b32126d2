import {describe, expect, it} from "vitest";
import {
    aacAudioSpecificConfig,
    buildAudioArgs,
    buildHlsArgs,
    buildVideoArgs,
    type VideoEncoding,
} from "../../../src/media/ffmpegArgs.js";

const VIDEO: VideoEncoding = {preset: "ultrafast", keyframeIntervalS: 1, bitrateKbps: 0, crf: 23};

const HEAD = ["-hide_banner", "-nostdin", "-loglevel", "warning"];
const LOW_DELAY_INPUT = ["-fflags", "+nobuffer", "-probesize", "32", "-analyzeduration", "0"];
const x264 = (gop: string, keyframeS: string, rate: string[]): string[] => [
    "-flags:v",
    "+global_header",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-profile:v",
    "baseline",
    "-pix_fmt",
    "yuv420p",
    "-bf",
    "0",
    "-g",
    gop,
    "-force_key_frames",
    `expr:if(isnan(prev_forced_t),1,gte(t-prev_forced_t,${keyframeS}))`,
    ...rate,
];
const FLV = ["-f", "flv", "-flvflags", "no_duration_filesize"];
const VIDEO_IN = [...LOW_DELAY_INPUT, "-use_wallclock_as_timestamps", "1", "-f", "mpjpeg", "-i", "pipe:0", "-copyts"];
const audioIn = (layout: string[]): string[] => [
    ...LOW_DELAY_INPUT,
    "-use_wallclock_as_timestamps",
    "1",
    "-f",
    "alaw",
    "-ar",
    "8000",
    ...layout,
    "-i",
    "pipe:0",
    "-copyts",
    "-map",
    "0:a:0",
];
const AAC = ["-c:a", "aac", "-b:a", "32k", "-ar", "16000", "-af", "aresample=async=1"];

describe("buildVideoArgs", () => {
    it.each([
        {
            name: "MJPEG parts → H.264 in FLV, passthrough timestamps (modern ffmpeg)",
            input: {flavor: "modern", logLevel: "warning", video: VIDEO} as const,
            expect: [
                ...HEAD,
                ...VIDEO_IN,
                "-map",
                "0:v:0",
                "-fps_mode",
                "passthrough",
                ...x264("30", "1", ["-crf", "23"]),
                ...FLV,
                "pipe:1",
            ],
        },
        {
            name: "legacy ffmpeg (4.x) uses -vsync 0",
            input: {flavor: "legacy", logLevel: "warning", video: VIDEO} as const,
            expect: [
                ...HEAD,
                ...VIDEO_IN,
                "-map",
                "0:v:0",
                "-vsync",
                "0",
                ...x264("30", "1", ["-crf", "23"]),
                ...FLV,
                "pipe:1",
            ],
        },
        {
            name: "constant bitrate and 2 s keyframes",
            input: {
                flavor: "modern",
                logLevel: "info",
                video: {preset: "ultrafast", keyframeIntervalS: 2, bitrateKbps: 800, crf: 23},
            } as const,
            expect: [
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "info",
                ...VIDEO_IN,
                "-map",
                "0:v:0",
                "-fps_mode",
                "passthrough",
                ...x264("60", "2", ["-b:v", "800k", "-maxrate", "800k", "-bufsize", "1600k"]),
                ...FLV,
                "pipe:1",
            ],
        },
    ])("builds $name", ({input, expect: expected}) => {
        const args = buildVideoArgs(input);
        expect(args).toStrictEqual(expected);
        expect(args[args.indexOf("-bf") + 1], "no B-frames").toBe("0");
    });
});

describe("buildAudioArgs", () => {
    it.each([
        {
            name: "A-law → AAC in FLV",
            input: {flavor: "modern", logLevel: "warning", audio: "aac", hasHlsAudio: true} as const,
            expect: [...HEAD, ...audioIn(["-ch_layout", "mono"]), ...AAC, ...FLV, "pipe:1"],
        },
        {
            name: "legacy ffmpeg uses -ac 1",
            input: {flavor: "legacy", logLevel: "warning", audio: "aac", hasHlsAudio: false} as const,
            expect: [...HEAD, ...audioIn(["-ac", "1"]), ...AAC, ...FLV, "pipe:1"],
        },
        {
            name: "PCMA copied, plus AAC for HLS on fd 3",
            input: {flavor: "modern", logLevel: "warning", audio: "pcma", hasHlsAudio: true} as const,
            expect: [
                ...HEAD,
                ...audioIn(["-ch_layout", "mono"]),
                "-c:a",
                "copy",
                ...FLV,
                "pipe:1",
                "-map",
                "0:a:0",
                ...AAC,
                ...FLV,
                "pipe:3",
            ],
        },
        {
            name: "Opus in Ogg with 20 ms pages, no HLS",
            input: {flavor: "modern", logLevel: "warning", audio: "opus", hasHlsAudio: false} as const,
            expect: [
                ...HEAD,
                ...audioIn(["-ch_layout", "mono"]),
                "-c:a",
                "libopus",
                "-b:a",
                "24k",
                "-ar",
                "48000",
                "-frame_duration",
                "20",
                "-application",
                "lowdelay",
                "-af",
                "aresample=async=1",
                "-f",
                "ogg",
                "-page_duration",
                "20000",
                "pipe:1",
            ],
        },
    ])("builds $name", ({input, expect: expected}) => {
        expect(buildAudioArgs(input)).toStrictEqual(expected);
    });
});

describe("buildHlsArgs", () => {
    it("remuxes FLV from stdin into ≈1 s MPEG-TS segments with a sliding window", () => {
        expect(
            buildHlsArgs({logLevel: "warning", dir: "/dev/shm/v720-hls-x/cam.1", segmentSeconds: 1, window: 6}),
        ).toStrictEqual([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "warning",
            "-f",
            "flv",
            "-i",
            "pipe:0",
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_list_size",
            "6",
            "-hls_flags",
            "delete_segments+omit_endlist+independent_segments+temp_file",
            "-hls_start_number_source",
            "epoch",
            "-hls_segment_filename",
            "/dev/shm/v720-hls-x/cam.1/seg_%d.ts",
            "/dev/shm/v720-hls-x/cam.1/index.m3u8",
        ]);
    });
});

describe("aacAudioSpecificConfig", () => {
    it.each([
        {rate: 16_000, channels: 1, hex: "1408"},
        {rate: 44_100, channels: 2, hex: "1210"},
        {rate: 8000, channels: 1, hex: "1588"},
    ])("is $hex for AAC-LC $rate Hz × $channels", ({rate, channels, hex}) => {
        expect(aacAudioSpecificConfig(rate, channels).toString("hex")).toBe(hex);
    });

    it("rejects a rate without a sampling frequency index", () => {
        expect(() => aacAudioSpecificConfig(17_000, 1)).toThrow(RangeError);
    });
});
