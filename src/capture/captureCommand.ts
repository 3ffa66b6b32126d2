/**
 * `v720-bridge capture --camera <id> -o FILE [--url URL] [--seconds N] [--token TOKEN]` (issue 6
 * item 5, decisions.md 19): asks the running service's HTTP API for
 * `GET /api/cameras/<id>/capture?seconds=N` and writes the NDJSON it streams to FILE (`-` = stdout),
 * until N seconds pass (the service ends the stream) or Ctrl-C (the file keeps what was recorded).
 *
 * Exit codes: 0 recorded (also when interrupted), 1 the service could not be reached or refused,
 * 2 usage error.
 */

import {once} from "node:events";
import {createWriteStream, type WriteStream} from "node:fs";
import {parseArgs} from "node:util";

export const DEFAULT_CAPTURE_URL = "http://127.0.0.1:8099";

export const CAPTURE_USAGE = `Usage: v720-bridge capture --camera ID -o FILE [options]

Records everything one camera exchanges with the running bridge (HTTP bootstrap, TCP and UDP
messages, MQTT) as JSON lines, with the Wi-Fi password and tokens redacted, for a bug report.
Start it, then power-cycle the camera so its boot is recorded.

Options:
  --camera ID          device id, e.g. 0800c00128F8 (the id need not be online or known yet)
  -o, --output FILE    file to write (- for stdout)
  --url URL            the bridge's HTTP API (default ${DEFAULT_CAPTURE_URL})
  --seconds N          stop after N seconds (default: until Ctrl-C, at most the service's limit)
  --token TOKEN        API token, when http.auth is set
  -h, --help           show this help
`;

export interface CaptureCommandIo {
    readonly stdout: {write(chunk: string | Uint8Array): unknown};
    readonly stderr: {write(chunk: string): unknown};
    /** Aborted on SIGINT/SIGTERM: the capture stops and the file keeps what was recorded (exit 0). */
    readonly signal?: AbortSignal | undefined;
    /** The default for --url (main.ts may derive it from http.port). */
    readonly defaultUrl?: string | undefined;
}

export interface CaptureArgs {
    readonly camera: string;
    readonly output: string;
    readonly url: string;
    readonly seconds: number | undefined;
    readonly token: string | undefined;
}

export class CaptureUsageError extends Error {
    override readonly name = "CaptureUsageError";
}

const CAMERA_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** One day; the service applies its own, usually lower, limit. */
const MAX_SECONDS = 86_400;

/** Parses argv (without the `capture` word); throws CaptureUsageError. Returns undefined for --help. */
export function parseCaptureArgs(argv: readonly string[], defaultUrl = DEFAULT_CAPTURE_URL): CaptureArgs | undefined {
    let values: ReturnType<typeof parse>["values"];
    try {
        values = parse(argv).values;
    } catch (error) {
        if (error instanceof TypeError) {
            throw new CaptureUsageError(error.message);
        }
        throw error;
    }
    if (values.help === true) {
        return undefined;
    }
    const camera = values.camera;
    if (camera === undefined || !CAMERA_ID.test(camera)) {
        throw new CaptureUsageError(
            camera === undefined ? "--camera is required" : `--camera: not a device id: ${camera}`,
        );
    }
    const output = values.output;
    if (output === undefined || output === "") {
        throw new CaptureUsageError("-o FILE is required (- for stdout)");
    }
    let seconds: number | undefined;
    if (values.seconds !== undefined) {
        seconds = /^\d{1,6}$/.test(values.seconds) ? Number(values.seconds) : Number.NaN;
        if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SECONDS) {
            throw new CaptureUsageError(`--seconds expects a whole number from 1 to ${MAX_SECONDS}`);
        }
    }
    const url = values.url ?? defaultUrl;
    let base: URL;
    try {
        base = new URL(url);
    } catch (error) {
        if (error instanceof TypeError) {
            throw new CaptureUsageError(`--url: not a URL: ${url}`);
        }
        throw error;
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
        throw new CaptureUsageError(`--url must be http:// or https://, got ${url}`);
    }
    return {camera, output, url, seconds, token: values.token};
}

function parse(argv: readonly string[]) {
    return parseArgs({
        args: [...argv],
        options: {
            camera: {type: "string"},
            output: {type: "string", short: "o"},
            url: {type: "string"},
            seconds: {type: "string"},
            token: {type: "string"},
            help: {type: "boolean", short: "h"},
        },
        strict: true,
        allowPositionals: false,
    });
}

/** The API URL of a capture. */
export function captureUrl(args: CaptureArgs): string {
    const url = new URL(`api/cameras/${encodeURIComponent(args.camera)}/capture`, withSlash(args.url));
    if (args.seconds !== undefined) {
        url.searchParams.set("seconds", String(args.seconds));
    }
    return url.toString();
}

/** Runs the command; resolves with the exit code. Never rejects for network or HTTP errors. */
export async function runCaptureCommand(argv: readonly string[], io: CaptureCommandIo): Promise<number> {
    let args: CaptureArgs | undefined;
    try {
        args = parseCaptureArgs(argv, io.defaultUrl);
    } catch (error) {
        if (error instanceof CaptureUsageError) {
            io.stderr.write(`v720-bridge capture: ${error.message}\n\n${CAPTURE_USAGE}`);
            return 2;
        }
        throw error;
    }
    if (args === undefined) {
        io.stdout.write(CAPTURE_USAGE);
        return 0;
    }
    const url = captureUrl(args);
    let response: Response;
    try {
        response = await fetch(url, {
            headers: {
                accept: "application/x-ndjson",
                ...(args.token === undefined ? {} : {authorization: `Bearer ${args.token}`}),
            },
            ...(io.signal === undefined ? {} : {signal: io.signal}),
        });
    } catch (error) {
        if (io.signal?.aborted === true) {
            io.stderr.write("capture cancelled before it started\n");
            return 0;
        }
        io.stderr.write(`capture failed: cannot reach ${args.url}: ${describe(error)}\n`);
        return 1;
    }
    if (!response.ok || response.body === null) {
        io.stderr.write(`capture failed: ${url} answered HTTP ${response.status}: ${await errorText(response)}\n`);
        return 1;
    }
    const toStdout = args.output === "-";
    const file = toStdout ? undefined : createWriteStream(args.output);
    let writeError: Error | undefined;
    file?.on("error", (error: Error) => {
        writeError = error;
    });
    const opened = file === undefined ? Promise.resolve() : once(file, "open");
    try {
        await opened;
    } catch (error) {
        io.stderr.write(`capture failed: cannot write ${args.output}: ${describe(error)}\n`);
        await response.body.cancel().catch(() => undefined);
        return 1;
    }
    io.stderr.write(
        `capturing camera ${args.camera} from ${args.url} into ${toStdout ? "stdout" : args.output}` +
            `${args.seconds === undefined ? "" : ` for ${args.seconds} s`}; Ctrl-C stops\n`,
    );
    let lines = 0;
    let outcome: "complete" | "interrupted" | "failed" = "complete";
    try {
        for await (const chunk of response.body) {
            lines += countNewlines(chunk);
            if (writeError !== undefined) {
                throw writeError;
            }
            if (file === undefined) {
                io.stdout.write(chunk);
            } else if (!file.write(chunk)) {
                await once(file, "drain");
            }
        }
    } catch (error) {
        if (io.signal?.aborted === true) {
            outcome = "interrupted";
        } else {
            outcome = "failed";
            io.stderr.write(`capture stopped: ${describe(error)}\n`);
        }
    }
    if (file !== undefined) {
        await closeFile(file);
    }
    const where = toStdout ? "stdout" : args.output;
    io.stderr.write(
        `${lines} record${lines === 1 ? "" : "s"} written to ${where}${outcome === "interrupted" ? " (interrupted)" : ""}\n`,
    );
    if (outcome === "complete" && lines <= 2) {
        io.stderr.write("nothing was exchanged: start the capture, then power-cycle the camera\n");
    }
    return outcome === "failed" ? 1 : 0;
}

function withSlash(url: string): string {
    return url.endsWith("/") ? url : `${url}/`;
}

function countNewlines(chunk: Uint8Array): number {
    let count = 0;
    for (const byte of chunk) {
        if (byte === 0x0a) {
            count += 1;
        }
    }
    return count;
}

async function errorText(response: Response): Promise<string> {
    try {
        const text = await response.text();
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
            return String((parsed as {error: unknown}).error);
        }
        return text.slice(0, 200);
    } catch (error) {
        return describe(error);
    }
}

function closeFile(file: WriteStream): Promise<void> {
    return new Promise((resolve) => {
        file.end(() => resolve());
        file.once("error", () => resolve());
    });
}

function describe(error: unknown): string {
    if (error instanceof Error) {
        const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
        return `${error.message}${cause}`;
    }
    return String(error);
}
