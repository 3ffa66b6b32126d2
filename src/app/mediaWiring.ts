/**
 * Wires issue 4's media part: finds ffmpeg, builds the media hub (one on-demand transcoder per
 * watched camera), the RTSP server and the HLS routes. Without ffmpeg, RTSP and HLS are reported
 * unavailable (log, API: no `rtsp`/`hls` URLs, 503 on the HLS routes) and everything else runs.
 *
 * The option shapes below mirror the snake_case keys the config schema should carry (README, "Live video");
 * every field is optional and falls back to MEDIA_DEFAULTS / RTSP_DEFAULTS.
 */
import {mkdtemp, rm, stat} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {type HlsProvider, HlsRoutes} from "../http/hlsRoutes.js";
import type {RouteHandler} from "../http/jsonResponse.js";
import type {RtspAudioCodec, VideoEncoding} from "../media/ffmpegArgs.js";
import {type FfmpegBinary, locateFfmpeg} from "../media/ffmpegLocator.js";
import {MediaHub} from "../media/mediaHub.js";
import type {CameraDirectory} from "../model/camera.js";
import type {RtspCredentials} from "../rtsp/rtspAuth.js";
import {RtspServer} from "../rtsp/rtspServer.js";
import type {Logger} from "../util/log.js";

/** `rtsp:` config slice (camelCase of rtsp.enabled, port, host, auth, session_timeout_ms, udp_port, describe_timeout_ms). */
export interface RtspWiringConfig {
    readonly enabled: boolean;
    readonly port: number;
    readonly host?: string | undefined;
    readonly auth?: RtspCredentials | null | undefined;
    readonly sessionTimeoutMs?: number | undefined;
    /** RTP port of the RTP/UDP transport (RTCP = +1); 0 = any free pair; null = UDP off. */
    readonly udpPort?: number | null | undefined;
    readonly describeTimeoutMs?: number | undefined;
}

/** `media:` config slice. */
export interface MediaWiringConfig {
    readonly ffmpegPath: string | null;
    /** RTSP audio: aac (default), pcma (copy, WebRTC-native), opus, or none. HLS audio is always AAC. */
    readonly audioCodec?: RtspAudioCodec | "none" | undefined;
    /** The transcoder stops this long after its last RTSP/HLS viewer left. */
    readonly stopGraceMs?: number | undefined;
    readonly restartMaxDelayMs?: number | undefined;
    readonly video?: Partial<VideoEncoding> | undefined;
    readonly hls?:
        | {
              readonly enabled?: boolean | undefined;
              readonly segmentSeconds?: number | undefined;
              readonly window?: number | undefined;
              readonly idleTimeoutMs?: number | undefined;
              readonly startTimeoutMs?: number | undefined;
              /** Parent directory for segments; null = /dev/shm when present, else the OS temp dir. */
              readonly dir?: string | null | undefined;
          }
        | undefined;
}

export const MEDIA_DEFAULTS = {
    audioCodec: "aac",
    stopGraceMs: 5000,
    restartMaxDelayMs: 10_000,
    video: {preset: "ultrafast", keyframeIntervalS: 1, bitrateKbps: 0, crf: 23},
    hls: {enabled: true, segmentSeconds: 1, window: 6, idleTimeoutMs: 15_000, startTimeoutMs: 20_000},
} as const;

export const RTSP_DEFAULTS = {
    host: "0.0.0.0",
    sessionTimeoutMs: 60_000,
    udpPort: 0,
    describeTimeoutMs: 20_000,
} as const;

export interface MediaDeps {
    readonly directory: CameraDirectory;
    /** `FFMPEG_PATH` when the caller did not fold it into `media.ffmpegPath`. */
    readonly envFfmpegPath?: string | undefined;
    /** Override of the binary lookup (tests). */
    readonly ffmpeg?: FfmpegBinary | null | undefined;
}

export interface RunningMedia {
    /** Route handlers for the viewer HTTP server (HLS). */
    readonly routes: RouteHandler[];
    /** Bound RTSP port, or undefined when RTSP is off or unavailable. */
    readonly rtspPort: number | undefined;
    readonly isHlsEnabled: boolean;
    readonly ffmpeg: {readonly path: string; readonly version: string} | undefined;
    /** The transcoders (tests, bench, API); undefined without ffmpeg. */
    readonly hub: MediaHub | undefined;
    readonly rtsp: RtspServer | undefined;
    /** Why RTSP/HLS are off (no ffmpeg, disabled), for logs and the API; undefined when they run. */
    readonly unavailableReason: string | undefined;
    stop(): Promise<void>;
}

export async function startMedia(
    config: {readonly rtsp: RtspWiringConfig; readonly media: MediaWiringConfig},
    deps: MediaDeps,
    log: Logger,
): Promise<RunningMedia> {
    const mediaLog = log.child("media");
    const hlsConfig = {...MEDIA_DEFAULTS.hls, ...definedOnly(config.media.hls ?? {})};
    const wantsHls = hlsConfig.enabled;
    if (!config.rtsp.enabled && !wantsHls) {
        return unavailable([], "RTSP and HLS are disabled");
    }
    const ffmpeg =
        deps.ffmpeg === undefined
            ? await locateFfmpeg({configuredPath: config.media.ffmpegPath, envPath: deps.envFfmpegPath}, mediaLog)
            : (deps.ffmpeg ?? undefined);
    if (ffmpeg === undefined) {
        const reason = "no ffmpeg found (media.ffmpeg_path, FFMPEG_PATH, ffmpeg-static, PATH)";
        mediaLog.warn(`${reason}: RTSP and HLS are unavailable; MJPEG, snapshots and audio still work`);
        return unavailable(
            wantsHls ? [new HlsRoutes(undefined, log.child("http:hls"), `HLS unavailable: ${reason}`)] : [],
            reason,
        );
    }
    if (!ffmpeg.encoders.has("libx264")) {
        const reason = `ffmpeg ${ffmpeg.path} has no libx264 encoder`;
        mediaLog.warn(`${reason}: RTSP and HLS are unavailable`);
        return unavailable(
            wantsHls ? [new HlsRoutes(undefined, log.child("http:hls"), `HLS unavailable: ${reason}`)] : [],
            reason,
        );
    }
    let audio: RtspAudioCodec | null =
        config.media.audioCodec === "none" ? null : (config.media.audioCodec ?? MEDIA_DEFAULTS.audioCodec);
    if (audio === "opus" && !ffmpeg.encoders.has("libopus")) {
        mediaLog.warn("ffmpeg has no libopus encoder; RTSP audio falls back to AAC");
        audio = "aac";
    }
    mediaLog.info(
        `using ffmpeg ${ffmpeg.version} at ${ffmpeg.path} (from ${ffmpeg.source}); RTSP audio ${audio ?? "none"}`,
    );

    const stoppers: (() => Promise<void>)[] = [];
    const stop = async (): Promise<void> => {
        for (const stopper of stoppers.splice(0).reverse()) {
            try {
                await stopper();
            } catch (error) {
                mediaLog.error("error while stopping media", {error});
            }
        }
    };
    try {
        let hlsRoot: string | null = null;
        if (wantsHls) {
            hlsRoot = await mkdtemp(join(hlsConfig.dir ?? (await defaultHlsParent()), "v720-hls-"));
            const root = hlsRoot;
            stoppers.push(() => rm(root, {recursive: true, force: true}));
        }
        const hub = new MediaHub(
            {
                transcoder: {
                    ffmpegPath: ffmpeg.path,
                    flavor: ffmpeg.flavor,
                    video: {...MEDIA_DEFAULTS.video, ...definedOnly(config.media.video ?? {})},
                    audio,
                    maxQueuedBytes: 1024 * 1024,
                    restartInitialDelayMs: 500,
                    restartMaxDelayMs: config.media.restartMaxDelayMs ?? MEDIA_DEFAULTS.restartMaxDelayMs,
                    killTimeoutMs: 2000,
                    logLevel: "warning",
                },
                stopGraceMs: config.media.stopGraceMs ?? MEDIA_DEFAULTS.stopGraceMs,
                hlsRoot,
                hlsSegmentSeconds: hlsConfig.segmentSeconds,
                hlsWindow: hlsConfig.window,
                hlsIdleTimeoutMs: hlsConfig.idleTimeoutMs,
                hlsStartTimeoutMs: hlsConfig.startTimeoutMs,
            },
            deps.directory,
            mediaLog,
        );
        stoppers.push(() => hub.stop());

        let rtsp: RtspServer | undefined;
        if (config.rtsp.enabled) {
            rtsp = new RtspServer(
                {
                    host: config.rtsp.host ?? RTSP_DEFAULTS.host,
                    port: config.rtsp.port,
                    auth: config.rtsp.auth ?? null,
                    sessionTimeoutMs: config.rtsp.sessionTimeoutMs ?? RTSP_DEFAULTS.sessionTimeoutMs,
                    describeTimeoutMs: config.rtsp.describeTimeoutMs ?? RTSP_DEFAULTS.describeTimeoutMs,
                    udpPort: config.rtsp.udpPort === undefined ? RTSP_DEFAULTS.udpPort : config.rtsp.udpPort,
                },
                hub,
                log.child("rtsp"),
            );
            await rtsp.start();
            const server = rtsp;
            stoppers.push(() => server.stop());
        }
        const hlsProvider: HlsProvider = hub;
        return {
            routes: wantsHls ? [new HlsRoutes(hlsProvider, log.child("http:hls"))] : [],
            rtspPort: rtsp?.port,
            isHlsEnabled: wantsHls,
            ffmpeg: {path: ffmpeg.path, version: ffmpeg.version},
            hub,
            rtsp,
            unavailableReason: undefined,
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}

function unavailable(routes: RouteHandler[], reason: string): RunningMedia {
    return {
        routes,
        rtspPort: undefined,
        isHlsEnabled: false,
        ffmpeg: undefined,
        hub: undefined,
        rtsp: undefined,
        unavailableReason: reason,
        stop: () => Promise.resolve(),
    };
}

/** tmpfs when the machine has it (segments never touch a disk), else the OS temp directory. */
async function defaultHlsParent(): Promise<string> {
    try {
        const shm = await stat("/dev/shm");
        if (shm.isDirectory()) {
            return "/dev/shm";
        }
    } catch {
        // no /dev/shm (macOS, some containers)
    }
    return tmpdir();
}

/** Drops keys whose value is undefined, so a spread keeps the defaults for them. */
function definedOnly<T extends object>(value: T): {[K in keyof T]?: Exclude<T[K], undefined>} {
    return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as {
        [K in keyof T]?: Exclude<T[K], undefined>;
    };
}
