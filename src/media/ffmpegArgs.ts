/**
 * PURE builders of the ffmpeg command lines (house-style §5 item 7; home-assistant-notes.md §3.3).
 *
 * A watched camera gets two small ffmpeg processes, so audio and video never wait for each other
 * (one ffmpeg serves its outputs strictly in timestamp order: with H.264 and AAC in one process,
 * each frame waited ≈110–200 ms for the audio, or the audio ≈500 ms for the video):
 * - video (buildVideoArgs): the camera's JPEGs as multipart MJPEG on stdin (`-f mpjpeg`: each part
 *   carries its Content-Length, so a frame leaves the demuxer the moment it is complete; `-f mjpeg`
 *   holds every frame until the next one starts) → H.264 in FLV on stdout;
 * - audio (buildAudioArgs): the camera's A-law on stdin → the RTSP audio on stdout (FLV with AAC or
 *   A-law, or Ogg with 20 ms Opus pages), plus FLV with AAC for HLS on fd 3 when the RTSP audio is
 *   not AAC (decisions.md 13).
 * Both use wall-clock timestamps and `-copyts`: every packet carries the epoch time ffmpeg read it,
 * so the two processes stay aligned and RTP timestamps stay continuous across restarts.
 *
 * HLS (buildHlsArgs) is a third, cheap ffmpeg that only remuxes: the transcoder feeds it one FLV
 * stream made of the H.264 and AAC tags above, and it writes ≈1 s MPEG-TS segments and a sliding
 * playlist. It runs only while someone watches HLS.
 */
import {assertNever} from "../util/assertNever.js";

export type RtspAudioCodec = "aac" | "pcma" | "opus";

/** ffmpeg 5.1 renamed `-vsync` to `-fps_mode` and pcm demuxers take `-ch_layout`; older builds need the old flags. */
export type FfmpegFlavor = "modern" | "legacy";

export type FfmpegLogLevel = "error" | "warning" | "info" | "verbose";

export interface VideoEncoding {
    /** libx264 preset, default "ultrafast". */
    readonly preset: string;
    /** A keyframe at least this often (seconds, 1–2 keeps HLS segments and RTSP joins short). */
    readonly keyframeIntervalS: number;
    /** Target bitrate in kbit/s; 0 = constant quality (`crf`). */
    readonly bitrateKbps: number;
    /** x264 CRF used when `bitrateKbps` is 0. */
    readonly crf: number;
}

export interface VideoArgsInput {
    readonly flavor: FfmpegFlavor;
    /** ffmpeg's own log level for stderr. */
    readonly logLevel: FfmpegLogLevel;
    readonly video: VideoEncoding;
}

export interface AudioArgsInput {
    readonly flavor: FfmpegFlavor;
    readonly logLevel: FfmpegLogLevel;
    /** The RTSP audio codec. */
    readonly audio: RtspAudioCodec;
    /** Also encode AAC for HLS on fd 3 (only used when `audio` is not AAC). */
    readonly hasHlsAudio: boolean;
}

export interface HlsArgsInput {
    readonly logLevel: FfmpegLogLevel;
    /** Directory that receives index.m3u8 and the segments (created by the caller). */
    readonly dir: string;
    readonly segmentSeconds: number;
    /** Segments kept in the playlist (sliding window). */
    readonly window: number;
}

/** The audio process's fd for the HLS AAC (FLV) when the RTSP audio is not AAC. */
export const HLS_AUDIO_OUTPUT_FD = 3;
/** Multipart boundary of the stdin MJPEG stream (`--ffmpeg` before every part). */
export const MPJPEG_BOUNDARY = "ffmpeg";

export const AAC_SAMPLE_RATE = 16_000;
export const AAC_BITRATE_KBPS = 32;
export const OPUS_SAMPLE_RATE = 48_000;
export const OPUS_BITRATE_KBPS = 24;
/** Frames per second assumed for the `-g` cap; keyframes are forced by time, this only bounds the GOP. */
const GOP_CAP_FPS = 30;
const FLV_OUTPUT = ["-f", "flv", "-flvflags", "no_duration_filesize"] as const;

/** JPEG parts on stdin → H.264 (FLV) on stdout. */
export function buildVideoArgs(input: VideoArgsInput): string[] {
    return [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        input.logLevel,
        ...INPUT_FLAGS,
        "-use_wallclock_as_timestamps",
        "1",
        "-f",
        "mpjpeg",
        "-i",
        "pipe:0",
        "-copyts",
        "-map",
        "0:v:0",
        ...(input.flavor === "modern" ? ["-fps_mode", "passthrough"] : ["-vsync", "0"]),
        ...buildVideoEncoderArgs(input.video),
        ...FLV_OUTPUT,
        "pipe:1",
    ];
}

/** A-law on stdin → the RTSP audio on stdout (and AAC for HLS on fd 3 when needed). */
export function buildAudioArgs(input: AudioArgsInput): string[] {
    const args = [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        input.logLevel,
        ...INPUT_FLAGS,
        "-use_wallclock_as_timestamps",
        "1",
        "-f",
        "alaw",
        "-ar",
        "8000",
        ...(input.flavor === "modern" ? ["-ch_layout", "mono"] : ["-ac", "1"]),
        "-i",
        "pipe:0",
        "-copyts",
        "-map",
        "0:a:0",
        ...buildAudioEncoderArgs(input.audio),
        ...(input.audio === "opus" ? ["-f", "ogg", "-page_duration", "20000"] : FLV_OUTPUT),
        "pipe:1",
    ];
    if (input.hasHlsAudio && input.audio !== "aac") {
        args.push("-map", "0:a:0", ...buildAudioEncoderArgs("aac"), ...FLV_OUTPUT, `pipe:${HLS_AUDIO_OUTPUT_FD}`);
    }
    return args;
}

/** The HLS remuxer: one FLV (H.264 + AAC) on stdin → MPEG-TS segments and a sliding playlist in `dir`. */
export function buildHlsArgs(input: HlsArgsInput): string[] {
    return [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        input.logLevel,
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
        String(input.segmentSeconds),
        "-hls_list_size",
        String(input.window),
        "-hls_flags",
        "delete_segments+omit_endlist+independent_segments+temp_file",
        "-hls_start_number_source",
        "epoch",
        "-hls_segment_filename",
        `${input.dir}/seg_%d.ts`,
        `${input.dir}/index.m3u8`,
    ];
}

/** Input options that keep ffmpeg from buffering or probing before it starts (notes §3.3). */
const INPUT_FLAGS = ["-fflags", "+nobuffer", "-probesize", "32", "-analyzeduration", "0"] as const;

export function buildVideoEncoderArgs(video: VideoEncoding): string[] {
    const keyframeS = formatNumber(video.keyframeIntervalS);
    const args = [
        // SPS/PPS as extradata: FLV's AVC sequence header needs them (HLS gets them in front of each keyframe)
        "-flags:v",
        "+global_header",
        "-c:v",
        "libx264",
        "-preset",
        video.preset,
        "-tune",
        "zerolatency",
        "-profile:v",
        "baseline",
        "-pix_fmt",
        "yuv420p",
        "-bf",
        "0",
        "-g",
        String(Math.max(1, Math.round(video.keyframeIntervalS * GOP_CAP_FPS))),
        // by time, whatever the camera's rate; -copyts makes `t` epoch seconds, so compare with the previous forced one
        "-force_key_frames",
        `expr:if(isnan(prev_forced_t),1,gte(t-prev_forced_t,${keyframeS}))`,
    ];
    if (video.bitrateKbps > 0) {
        const kbps = Math.round(video.bitrateKbps);
        args.push("-b:v", `${kbps}k`, "-maxrate", `${kbps}k`, "-bufsize", `${kbps * 2}k`);
    } else {
        args.push("-crf", String(video.crf));
    }
    return args;
}

/** Encoder options of one audio output file (its only audio stream). */
export function buildAudioEncoderArgs(codec: RtspAudioCodec): string[] {
    switch (codec) {
        case "aac":
            return [
                "-c:a",
                "aac",
                "-b:a",
                `${AAC_BITRATE_KBPS}k`,
                "-ar",
                String(AAC_SAMPLE_RATE),
                "-af",
                "aresample=async=1",
            ];
        case "opus":
            return [
                "-c:a",
                "libopus",
                "-b:a",
                `${OPUS_BITRATE_KBPS}k`,
                "-ar",
                String(OPUS_SAMPLE_RATE),
                "-frame_duration",
                "20",
                "-application",
                "lowdelay",
                "-af",
                "aresample=async=1",
            ];
        case "pcma":
            return ["-c:a", "copy"];
        default:
            return assertNever(codec);
    }
}

/** The AAC-LC AudioSpecificConfig ffmpeg's encoder writes for our settings (ISO 14496-3 §1.6.2.1). */
export function aacAudioSpecificConfig(sampleRate: number, channels: number): Buffer {
    const index = AAC_SAMPLE_RATES.indexOf(sampleRate);
    if (index < 0) {
        throw new RangeError(`no AAC sampling frequency index for ${sampleRate} Hz`);
    }
    const value = (2 << 11) | (index << 7) | (channels << 3);
    return Buffer.from([value >> 8, value & 0xff]);
}

const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

function formatNumber(value: number): string {
    return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, "");
}
