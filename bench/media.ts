/**
 * Issue 4 bench: RTSP transcoding for 1 and 4 watched cameras (640×480, 10 fps, AAC audio, HLS on).
 *
 *   tsx bench/media.ts                 # 1 and 4 cameras, 15 s windows (~50 s)
 *   tsx bench/media.ts --cameras 1,2 --seconds 10
 *
 * Everything runs in this process (app + media wiring via tests/support/mediaHarness.ts, simulated
 * cameras), and one real client per camera: `ffmpeg -rtsp_transport tcp -i rtsp://… -f rawvideo
 * -pix_fmt gray -` decoding to raw frames. For each decoded frame the simulator's frame counter is
 * read back from the picture (its 7-segment digits, matched against reference frames rendered by
 * the same synthetic source), which gives:
 * - first frame latency: client start → first decoded frame (cold: the camera idles and no
 *   transcoder runs before the client connects);
 * - end-to-end delay: camera sent the frame's last fragment → the client has decoded it (so it
 *   includes the client's own decode; the RTSP receipt is a little earlier);
 * - CPU per transcoded camera: its two ffmpeg processes' (video, audio) utime+stime over the window
 *   (/proc), and the whole bench process (bridge + simulators + clients' readers) for context;
 * - memory: each camera's two ffmpeg processes (PSS: their shared libraries counted once), and
 *   this process's RSS.
 * Prints PASS/FAIL next to the targets (first frame < 2 s, e2e p95 < 500 ms, CPU < 15 % of a core
 * per camera) and exits 0 either way: it is not a test.
 */
import {type ChildProcess, spawn} from "node:child_process";
import {readFileSync} from "node:fs";
import {parseArgs} from "node:util";
import {createSyntheticJpegSource} from "../src/simulator/syntheticJpeg.js";
import {startMediaHarness} from "../tests/support/mediaHarness.js";
import {RawRtspClient} from "../tests/support/rtspClient.js";

const WIDTH = 640;
const HEIGHT = 480;
const FPS = 10;
const FRAME_BYTES = WIDTH * HEIGHT;
const DIGITS = 6;
const CLOCK_TICKS = 100; // USER_HZ on Linux

interface Options {
    readonly cameras: number[];
    readonly seconds: number;
}

function parseOptions(): Options {
    const {values} = parseArgs({
        options: {cameras: {type: "string", default: "1,4"}, seconds: {type: "string", default: "15"}},
    });
    return {
        cameras: values.cameras
            .split(",")
            .map(Number)
            .filter((n) => Number.isInteger(n) && n > 0),
        seconds: Number(values.seconds),
    };
}

// ---- reading the frame counter back from a decoded picture ---------------------------------------

interface DigitReader {
    /** The counter modulo 10^6, or undefined when a digit is unclear. */
    read(gray: Buffer): number | undefined;
}

/** Decodes JPEGs to 8-bit gray frames with ffmpeg. */
async function decodeJpegs(jpegs: readonly Buffer[]): Promise<Buffer[]> {
    const child = spawn(
        "ffmpeg",
        ["-v", "error", "-f", "image2pipe", "-c:v", "mjpeg", "-i", "pipe:0"].concat([
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "pipe:1",
        ]),
    );
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stdin.end(Buffer.concat([...jpegs]));
    await new Promise((resolve) => child.on("close", resolve));
    const all = Buffer.concat(chunks);
    return jpegs.map((_, index) => all.subarray(index * FRAME_BYTES, (index + 1) * FRAME_BYTES));
}

/** Templates: frames whose 6 shown digits are all `d`; digit cells: the column runs where templates differ. */
async function buildDigitReader(cameraId: string): Promise<DigitReader> {
    const source = createSyntheticJpegSource({});
    const templates = await decodeJpegs(
        Array.from({length: 10}, (_, digit) => source.render(cameraId, Number(String(digit).repeat(DIGITS)))),
    );
    const columns = new Array<boolean>(WIDTH).fill(false);
    let top = HEIGHT;
    let bottom = 0;
    for (let y = 0; y < HEIGHT; y++) {
        for (let x = 0; x < WIDTH; x++) {
            const base = templates[0]?.[y * WIDTH + x] ?? 0;
            if (templates.some((template) => Math.abs((template[y * WIDTH + x] ?? 0) - base) > 40)) {
                columns[x] = true;
                top = Math.min(top, y);
                bottom = Math.max(bottom, y);
            }
        }
    }
    const cells: {x0: number; x1: number}[] = [];
    for (let x = 0; x < WIDTH; x++) {
        if (columns[x] === true) {
            const last = cells.at(-1);
            if (last !== undefined && x - last.x1 <= 3) {
                last.x1 = x;
            } else {
                cells.push({x0: x, x1: x});
            }
        }
    }
    if (cells.length !== DIGITS) {
        throw new Error(`expected ${DIGITS} digit cells in the synthetic frame, found ${cells.length}`);
    }
    const distance = (frame: Buffer, template: Buffer, cell: {x0: number; x1: number}): number => {
        let sum = 0;
        for (let y = top; y <= bottom; y += 2) {
            for (let x = cell.x0; x <= cell.x1; x += 2) {
                sum += Math.abs((frame[y * WIDTH + x] ?? 0) - (template[y * WIDTH + x] ?? 0));
            }
        }
        return sum;
    };
    return {
        read(gray) {
            let value = 0;
            for (const cell of cells) {
                const scores = templates.map((template) => distance(gray, template, cell));
                const best = scores.indexOf(Math.min(...scores));
                const sorted = [...scores].sort((a, b) => a - b);
                if ((sorted[1] ?? 0) < (sorted[0] ?? 0) * 1.5) {
                    return undefined; // ambiguous
                }
                value = value * 10 + best;
            }
            return value;
        },
    };
}

// ---- one camera's client ----------------------------------------------------------------------

interface CameraRun {
    readonly id: string;
    /** Camera sent a frame → its H.264 left the transcoder (in process; encoding is faster than a frame interval). */
    readonly encodeDelaysMs: number[];
    readonly client: ChildProcess;
    readonly startedAtMs: number;
    firstFrameAtMs: number | undefined;
    decoded: number;
    unreadable: number;
    readonly delaysMs: number[];
    windowOpen: boolean;
}

function startClient(url: string, id: string, reader: DigitReader, sentAt: Map<number, number>): CameraRun {
    // low-delay client: no probing beyond the SDP, no frame rate conversion (frames as they come)
    const args = ["-v", isDebug() ? "info" : "error", "-fflags", "nobuffer", "-flags", "low_delay"];
    args.push("-probesize", "32", "-analyzeduration", "0", "-threads", "1", "-rtsp_transport", "tcp", "-i", url);
    args.push("-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1");
    const client = spawn("ffmpeg", args);
    const run: CameraRun = {
        id,
        encodeDelaysMs: [],
        client,
        startedAtMs: performance.now(),
        firstFrameAtMs: undefined,
        decoded: 0,
        unreadable: 0,
        delaysMs: [],
        windowOpen: false,
    };
    let pending = Buffer.alloc(0);
    client.stdout?.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= FRAME_BYTES) {
            const frame = pending.subarray(0, FRAME_BYTES);
            pending = pending.subarray(FRAME_BYTES);
            const nowMs = performance.now();
            run.firstFrameAtMs ??= nowMs;
            run.decoded += 1;
            if (!run.windowOpen) {
                continue;
            }
            const counter = reader.read(frame);
            const sent = counter === undefined ? undefined : sentAt.get(counter);
            if (sent === undefined) {
                run.unreadable += 1;
            } else {
                run.delaysMs.push(nowMs - sent);
            }
        }
    });
    client.stderr?.on("data", (chunk: Buffer) => {
        if (isDebug()) {
            process.stderr.write(chunk);
        }
    });
    client.on("error", () => undefined);
    return run;
}

/** Connect, DESCRIBE, SETUP (TCP), PLAY; ms until the first RTP video packet. The client stays connected. */
async function coldStart(url: string, port: number): Promise<number> {
    const startedAt = performance.now();
    const client = await RawRtspClient.connect(port);
    openClients.push(client);
    await client.request("DESCRIBE", url, {}, 30_000);
    const setup = await client.request("SETUP", `${url}/trackID=0`, {transport: "RTP/AVP/TCP;unicast;interleaved=0-1"});
    await client.request("PLAY", url, {session: (setup.headers.get("session") ?? "").split(";")[0] ?? ""});
    while (client.packets(0) === 0 && performance.now() - startedAt < 30_000) {
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const elapsedMs = performance.now() - startedAt;
    client.interleaved.clear();
    client.socket.on("data", () => client.interleaved.clear());
    return elapsedMs;
}

const openClients: RawRtspClient[] = [];

// ---- /proc ---------------------------------------------------------------------------------------

function cpuTicks(pid: number): number | undefined {
    try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
        return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
        return undefined;
    }
}

/** Proportional set size: shared library pages are split between the processes that map them. */
function pssMb(pid: number): number | undefined {
    try {
        const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
        return match === null ? undefined : Number(match[1]) / 1024;
    } catch {
        return undefined;
    }
}

function percentile(values: readonly number[], p: number): number {
    if (values.length === 0) {
        return Number.NaN;
    }
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** BENCH_DEBUG=1 shows the clients' ffmpeg output. */
function isDebug(): boolean {
    return process.env["BENCH_DEBUG"] === "1";
}

const pass = (ok: boolean): string => (ok ? "PASS" : "FAIL");

async function benchCameras(count: number, seconds: number): Promise<void> {
    const harness = await startMediaHarness({media: {stopGraceMs: 2000}});
    const runs: CameraRun[] = [];
    try {
        const ids = Array.from(
            {length: count},
            (_, index) => `0800c0${(0xbe00 + index).toString(16).padStart(6, "0")}`,
        );
        const sentAt = ids.map(() => new Map<number, number>());
        const readers = await Promise.all(ids.map((id) => buildDigitReader(id)));
        const lastSentAt = ids.map(() => 0);
        ids.forEach((id, index) => {
            const sim = harness.camera(id, {fps: FPS});
            sim.on("frameSent", (event) => {
                lastSentAt[index] = event.sentAtPerfMs;
                const map = sentAt[index];
                map?.set(event.counter % 10 ** DIGITS, event.sentAtPerfMs);
                if (map !== undefined && map.size > 500) {
                    const oldest = map.keys().next().value;
                    if (oldest !== undefined) {
                        map.delete(oldest);
                    }
                }
            });
        });
        await Promise.all(ids.map((id) => harness.waitOnline(id)));
        // cold start: cameras idle, no transcoder; N raw RTSP clients at once, connect → first RTP packet
        const coldMs = await Promise.all(ids.map((id) => coldStart(harness.rtspUrl(id), harness.rtspPort)));
        ids.forEach((id, index) => {
            runs.push(
                startClient(
                    harness.rtspUrl(id),
                    id,
                    readers[index] as DigitReader,
                    sentAt[index] as Map<number, number>,
                ),
            );
        });
        const taps = runs.map((run, index) =>
            harness.media.hub?.openEncoded(run.id, {
                onVideo: () => {
                    if (run.windowOpen) {
                        run.encodeDelaysMs.push(performance.now() - (lastSentAt[index] ?? 0));
                    }
                },
            }),
        );
        const deadline = performance.now() + 20_000;
        while (runs.some((run) => run.firstFrameAtMs === undefined) && performance.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        // warm-up, then the measured window
        await new Promise((resolve) => setTimeout(resolve, 2000));
        // per camera: the video ffmpeg (JPEG → H.264) and the audio ffmpeg (A-law → AAC)
        const pids = ids.map((id) => {
            const transcoder = harness.media.hub?.transcoder(id);
            return [transcoder?.pid, transcoder?.audioPid].filter((pid) => pid !== undefined);
        });
        const sumTicks = (group: readonly number[]): number =>
            group.reduce((sum, pid) => sum + (cpuTicks(pid) ?? 0), 0);
        const ticksBefore = pids.map(sumTicks);
        const processBefore = process.cpuUsage();
        const windowStart = performance.now();
        for (const run of runs) {
            run.windowOpen = true;
        }
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        for (const run of runs) {
            run.windowOpen = false;
        }
        const windowS = (performance.now() - windowStart) / 1000;
        const ffmpegCpu = pids.map(
            (group, index) => ((sumTicks(group) - (ticksBefore[index] ?? 0)) / CLOCK_TICKS / windowS) * 100,
        );
        const processCpu = process.cpuUsage(processBefore);
        const ffmpegRss = pids.map((group) => group.reduce((sum, pid) => sum + (pssMb(pid) ?? Number.NaN), 0));

        for (const tap of taps) {
            if (tap?.ok === true) {
                tap.handle.close();
            }
        }
        const encodeDelays = runs.flatMap((run) => run.encodeDelaysMs);
        const firstFrames = runs.map((run) => (run.firstFrameAtMs ?? Number.NaN) - run.startedAtMs);
        const delays = runs.flatMap((run) => run.delaysMs);
        const decodedFps = runs.map((run) => run.delaysMs.length / windowS);
        const cpuPerCamera = ffmpegCpu.reduce((sum, value) => sum + value, 0) / Math.max(1, ffmpegCpu.length);
        const p95 = percentile(delays, 95);
        const worstFirst = Math.max(...firstFrames);
        const worstCold = Math.max(...coldMs);
        const lines = [
            `--- ${count} watched camera(s), ${windowS.toFixed(1)} s window ---`,
            `first frame, cold (camera idle, no transcoder; ${count} client(s) at once; connect → first RTP video packet): ${coldMs.map((ms) => `${Math.round(ms)} ms`).join(", ")}  [target < 2000 ms: ${pass(worstCold < 2000)}]`,
            `first frame, ffmpeg client (process start → first decoded frame, stream running): ${firstFrames.map((ms) => `${Math.round(ms)} ms`).join(", ")}  [target < 2000 ms: ${pass(worstFirst < 2000)}]`,
            `end-to-end delay (camera sent → client decoded): p50 ${Math.round(percentile(delays, 50))} ms, p95 ${Math.round(p95)} ms, max ${Math.round(percentile(delays, 100))} ms over ${delays.length} frames  [target p95 < 500 ms: ${pass(p95 < 500)}]`,
            `  of which in the bridge (camera sent → H.264 out of the transcoder, to the RTSP sessions): p50 ${Math.round(percentile(encodeDelays, 50))} ms, p95 ${Math.round(percentile(encodeDelays, 95))} ms`,
            `frames read back per camera: ${decodedFps.map((fps) => `${fps.toFixed(1)} fps`).join(", ")} (unreadable: ${runs.reduce((sum, run) => sum + run.unreadable, 0)})`,
            `CPU per transcoded camera (its video + audio ffmpeg): ${ffmpegCpu.map((value) => `${value.toFixed(1)} %`).join(", ")} of a core, mean ${cpuPerCamera.toFixed(1)} %  [target < 15 %: ${pass(cpuPerCamera < 15)}]`,
            `CPU of this process (bridge + ${count} simulator(s) + client readers): ${(((processCpu.user + processCpu.system) / 1000 / (windowS * 1000)) * 100).toFixed(1)} % of a core`,
            `memory per transcoded camera (video + audio ffmpeg, PSS): ${ffmpegRss.map((mb) => `${mb.toFixed(0)} MB`).join(", ")}; this process ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
        process.stdout.write(
            `${JSON.stringify({
                cameras: count,
                coldFirstRtpMs: coldMs.map(Math.round),
                firstDecodedMs: firstFrames.map(Math.round),
                e2eP50Ms: Math.round(percentile(delays, 50)),
                e2eP95Ms: Math.round(p95),
                bridgeP95Ms: Math.round(percentile(encodeDelays, 95)),
                cpuPercentPerCamera: Number(cpuPerCamera.toFixed(1)),
                ffmpegPssMb: ffmpegRss.map((mb) => Math.round(mb)),
                processRssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
            })}\n`,
        );
    } finally {
        for (const run of runs) {
            run.client.kill("SIGKILL");
        }
        for (const client of openClients.splice(0)) {
            client.close();
        }
        await harness.stop();
    }
}

const options = parseOptions();
process.stdout.write(
    `media bench: ${options.cameras.join(", ")} camera(s), ${WIDTH}×${HEIGHT} ${FPS} fps, AAC, HLS on\n`,
);
for (const count of options.cameras) {
    await benchCameras(count, options.seconds);
}
