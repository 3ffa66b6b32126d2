/**
 * The real app (tests/support/testApp.ts) plus issue 4's media wiring (RTSP on 127.0.0.1:0, HLS
 * routes on a small HTTP server of their own) and simulated cameras, for the RTSP/HLS integration
 * tests and bench/media.ts. Once app.ts calls startMedia itself this can pass config overrides instead.
 */
import {execFile, spawnSync} from "node:child_process";
import {createServer, type Server} from "node:http";
import type {AddressInfo} from "node:net";
import {
    type MediaWiringConfig,
    type RtspWiringConfig,
    type RunningMedia,
    startMedia,
} from "../../src/app/mediaWiring.js";
import type {RouteRequest} from "../../src/http/jsonResponse.js";
import {SimCamera, type SimCameraOptions} from "../../src/simulator/simCamera.js";
import {type Logger, silentLogger} from "../../src/util/log.js";
import {startTestApp, type TestApp} from "./testApp.js";

export interface MediaHarness {
    readonly app: TestApp;
    readonly media: RunningMedia;
    readonly rtspPort: number;
    /** http://127.0.0.1:<port> of the HLS route server. */
    readonly hlsBaseUrl: string;
    rtspUrl(cameraId: string): string;
    camera(id: string, options?: Partial<SimCameraOptions>): SimCamera;
    waitOnline(id: string, timeoutMs?: number): Promise<void>;
    stop(): Promise<void>;
}

export async function startMediaHarness(
    config: {rtsp?: Partial<RtspWiringConfig>; media?: Partial<MediaWiringConfig>} = {},
    log: Logger = silentLogger,
): Promise<MediaHarness> {
    const app = await startTestApp({}, {log});
    const cameras: SimCamera[] = [];
    let media: RunningMedia | undefined;
    let http: Server | undefined;
    const stop = async (): Promise<void> => {
        for (const camera of cameras.splice(0)) {
            await camera.close({abrupt: true});
        }
        await media?.stop();
        await new Promise<void>((resolve) => (http === undefined ? resolve() : http.close(() => resolve())));
        http?.closeAllConnections();
        await app.stop();
    };
    try {
        media = await startMedia(
            {
                rtsp: {enabled: true, port: 0, host: "127.0.0.1", ...config.rtsp},
                media: {ffmpegPath: null, stopGraceMs: 1000, ...config.media},
            },
            {directory: app.cameras.registry},
            log,
        );
        const routes = media.routes;
        const server = createServer((req, res) => {
            const url = new URL(req.url ?? "/", "http://localhost");
            const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, "") : url.pathname;
            const route: RouteRequest = {
                method: req.method ?? "GET",
                path,
                segments: path.split("/").slice(1),
                query: url.search,
            };
            if (!routes.some((handler) => handler.handle(req, res, route))) {
                res.writeHead(404).end();
            }
        });
        http = server;
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
        const hlsPort = (server.address() as AddressInfo).port;
        const rtspPort = media.rtspPort ?? 0;
        return {
            app,
            media,
            rtspPort,
            hlsBaseUrl: `http://127.0.0.1:${hlsPort}`,
            rtspUrl: (id) => `rtsp://127.0.0.1:${rtspPort}/${id}`,
            camera: (id, options = {}) => {
                const sim = new SimCamera({
                    id,
                    serverHost: "127.0.0.1",
                    httpPort: app.ports.cloudHttp,
                    fps: 10,
                    heartbeatIntervalMs: 1000,
                    reconnectDelayMs: 100,
                    ...options,
                });
                cameras.push(sim);
                sim.start();
                return sim;
            },
            waitOnline: async (id, timeoutMs = 10_000) => {
                const deadline = Date.now() + timeoutMs;
                while (app.cameras.registry.get(id)?.online !== true) {
                    if (Date.now() > deadline) {
                        throw new Error(`camera ${id} did not come online within ${timeoutMs} ms`);
                    }
                    await new Promise((resolve) => setTimeout(resolve, 50));
                }
            },
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}

// ---- real tools (decisions.md 14, 15) ------------------------------------------------------------

/** True under CI, where a missing tool is a failure instead of a skip. */
export function isCi(): boolean {
    return process.env["CI"] === "true";
}

function runs(command: string, args: readonly string[]): boolean {
    const result = spawnSync(command, args, {stdio: "ignore", timeout: 15_000});
    return result.status === 0;
}

/** The Debian packages missing for the media tests (empty when ffmpeg, ffprobe and GStreamer rtspsrc + libav are there). */
export function missingMediaTools(options: {gstreamer?: boolean} = {}): string[] {
    const missing: string[] = [];
    if (!runs("ffmpeg", ["-hide_banner", "-version"]) || !runs("ffprobe", ["-hide_banner", "-version"])) {
        missing.push("ffmpeg");
    }
    if (options.gstreamer === true) {
        if (!runs("gst-launch-1.0", ["--version"])) {
            missing.push("gstreamer1.0-tools");
        }
        if (!runs("gst-inspect-1.0", ["rtspsrc"])) {
            missing.push("gstreamer1.0-plugins-good");
        }
        if (!runs("gst-inspect-1.0", ["avdec_h264"])) {
            missing.push("gstreamer1.0-libav");
        }
    }
    return missing;
}

export interface ToolResult {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly elapsedMs: number;
}

/** Runs a tool to completion (or `timeoutMs`, then SIGKILL) and collects its output. */
export function runTool(command: string, args: readonly string[], timeoutMs: number): Promise<ToolResult> {
    const startedAt = performance.now();
    return new Promise((resolve) => {
        execFile(
            command,
            [...args],
            {timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024},
            (error, stdout, stderr) => {
                let code: number | null = 0;
                if (error !== null) {
                    code = typeof error.code === "number" ? error.code : null;
                }
                resolve({code, stdout, stderr, elapsedMs: performance.now() - startedAt});
            },
        );
    });
}

export interface ProbeResult {
    readonly codecs: {readonly video: string | undefined; readonly audio: string | undefined};
    readonly videoPackets: number;
    readonly audioPackets: number;
    /** Video packets per second of presentation time. */
    readonly fps: number;
    readonly videoSpanS: number;
    readonly videoSizes: readonly number[];
    readonly stderr: string;
}

/** ffprobe reading `url` for `seconds` (RTSP over `transport`, or any other input). */
export async function probe(url: string, seconds: number, transport?: "tcp" | "udp"): Promise<ProbeResult> {
    const args = ["-v", "error", ...(transport === undefined ? [] : ["-rtsp_transport", transport])];
    args.push(
        "-read_intervals",
        `%+${seconds}`,
        "-show_entries",
        "stream=codec_name,codec_type:packet=stream_index,pts_time,size",
    );
    args.push("-of", "json", url);
    const result = await runTool("ffprobe", args, (seconds + 30) * 1000);
    const json = JSON.parse(result.stdout === "" ? "{}" : result.stdout) as {
        streams?: {codec_name?: string; codec_type?: string}[];
        packets?: {stream_index?: number; pts_time?: string; size?: string}[];
    };
    const streams = json.streams ?? [];
    const videoIndex = streams.findIndex((stream) => stream.codec_type === "video");
    const audioIndex = streams.findIndex((stream) => stream.codec_type === "audio");
    const packets = json.packets ?? [];
    const video = packets.filter((packet) => packet.stream_index === videoIndex);
    const times = video.map((packet) => Number(packet.pts_time)).filter((time) => Number.isFinite(time));
    const span = times.length > 1 ? Math.max(...times) - Math.min(...times) : 0;
    return {
        codecs: {video: streams[videoIndex]?.codec_name, audio: streams[audioIndex]?.codec_name},
        videoPackets: video.length,
        audioPackets: packets.filter((packet) => packet.stream_index === audioIndex).length,
        fps: span > 0 ? (times.length - 1) / span : 0,
        videoSpanS: span,
        videoSizes: video.map((packet) => Number(packet.size)),
        stderr: result.stderr,
    };
}
