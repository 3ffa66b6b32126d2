/**
 * Finds a working ffmpeg (decisions.md 12): `media.ffmpeg_path` → `FFMPEG_PATH` → the `ffmpeg-static`
 * package's binary, only when that file exists (an optional package whose install-time download may
 * have failed; never required) → `ffmpeg` on PATH. The first candidate that runs wins; its version
 * decides the argument flavour and its encoder list tells which audio codecs are possible.
 */
import {execFile} from "node:child_process";
import {access, constants} from "node:fs/promises";
import type {Logger} from "../util/log.js";
import type {FfmpegFlavor} from "./ffmpegArgs.js";

export type FfmpegSource = "config" | "env" | "ffmpeg-static" | "path";

export interface FfmpegBinary {
    readonly path: string;
    /** As printed by `ffmpeg -version` ("5.1.9-0+deb12u1", "N-47683-g0e8eb07980-static"). */
    readonly version: string;
    readonly flavor: FfmpegFlavor;
    readonly source: FfmpegSource;
    /** Encoder names from `ffmpeg -encoders` (libx264, aac, libopus, ...). */
    readonly encoders: ReadonlySet<string>;
}

export interface FfmpegProbe {
    readonly version: string;
    readonly encoders: ReadonlySet<string>;
}

export interface LocateFfmpegOptions {
    /** `media.ffmpeg_path` (config/load.ts already folds `FFMPEG_PATH` into it when the file sets none). */
    readonly configuredPath?: string | null | undefined;
    /** `FFMPEG_PATH`, when the caller has it separately. */
    readonly envPath?: string | undefined;
    /** Default: `await import("ffmpeg-static")` in a try/catch. */
    readonly importStaticPath?: (() => Promise<string | undefined>) | undefined;
    /** Default: fs.access X_OK. */
    readonly isExecutable?: ((path: string) => Promise<boolean>) | undefined;
    /** Default: runs `<path> -version` and `<path> -encoders`. */
    readonly probe?: ((path: string) => Promise<FfmpegProbe | undefined>) | undefined;
}

interface Candidate {
    readonly path: string;
    readonly source: FfmpegSource;
}

/** The first candidate that runs, or undefined (RTSP and HLS are then unavailable; everything else works). */
export async function locateFfmpeg(options: LocateFfmpegOptions, log: Logger): Promise<FfmpegBinary | undefined> {
    const probe = options.probe ?? probeFfmpeg;
    const candidates: Candidate[] = [];
    const configured = nonEmpty(options.configuredPath);
    if (configured !== undefined) {
        candidates.push({path: configured, source: "config"});
    }
    const fromEnv = nonEmpty(options.envPath);
    if (fromEnv !== undefined && fromEnv !== configured) {
        candidates.push({path: fromEnv, source: "env"});
    }
    const staticPath = await (options.importStaticPath ?? importFfmpegStatic)();
    if (staticPath !== undefined && (await (options.isExecutable ?? isExecutable)(staticPath))) {
        candidates.push({path: staticPath, source: "ffmpeg-static"});
    }
    candidates.push({path: "ffmpeg", source: "path"});

    for (const candidate of candidates) {
        const found = await probe(candidate.path);
        if (found !== undefined) {
            return {
                path: candidate.path,
                version: found.version,
                flavor: ffmpegFlavor(found.version),
                source: candidate.source,
                encoders: found.encoders,
            };
        }
        const level = candidate.source === "path" || candidate.source === "ffmpeg-static" ? "debug" : "warn";
        log[level](`ffmpeg from ${candidate.source} (${candidate.path}) does not run; trying the next candidate`);
    }
    return undefined;
}

/** "5.1.9-0+deb12u1" / "n6.1.1" / "7.0.2-static" → modern (≥ 5.1); older or unparsable ("N-47683-g…") → legacy. */
export function ffmpegFlavor(version: string): FfmpegFlavor {
    const match = /^n?(\d+)\.(\d+)/.exec(version);
    if (match === null) {
        return "legacy";
    }
    const major = Number(match[1]);
    const minor = Number(match[2]);
    return major > 5 || (major === 5 && minor >= 1) ? "modern" : "legacy";
}

/** The version word of `ffmpeg -version`'s first line, or undefined when it is not ffmpeg's banner. */
export function parseFfmpegVersion(output: string): string | undefined {
    const match = /^ffmpeg version (\S+)/m.exec(output);
    return match?.[1];
}

/** Encoder names from `ffmpeg -encoders` (lines like ` V....D libx264   libx264 H.264 ...`). */
export function parseFfmpegEncoders(output: string): Set<string> {
    const encoders = new Set<string>();
    for (const line of output.split("\n")) {
        const match = /^\s[VAS][F.][S.][X.][B.][D.]\s+(\S+)/.exec(line);
        if (match?.[1] !== undefined && match[1] !== "=") {
            encoders.add(match[1]);
        }
    }
    return encoders;
}

const PROBE_TIMEOUT_MS = 10_000;

export async function probeFfmpeg(path: string): Promise<FfmpegProbe | undefined> {
    const versionOutput = await run(path, ["-hide_banner", "-version"]);
    const version = versionOutput === undefined ? undefined : parseFfmpegVersion(versionOutput);
    if (version === undefined) {
        return undefined;
    }
    const encoderOutput = await run(path, ["-hide_banner", "-encoders"]);
    return {version, encoders: parseFfmpegEncoders(encoderOutput ?? "")};
}

function run(path: string, args: readonly string[]): Promise<string | undefined> {
    return new Promise((resolve) => {
        try {
            const child = execFile(
                path,
                args,
                {timeout: PROBE_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, windowsHide: true},
                (error, stdout) => {
                    resolve(error === null ? stdout : undefined);
                },
            );
            child.on("error", () => resolve(undefined));
        } catch {
            resolve(undefined);
        }
    });
}

/** The optional `ffmpeg-static` package's path; it is not a dependency, so this usually finds nothing. */
async function importFfmpegStatic(): Promise<string | undefined> {
    const specifier = "ffmpeg-static";
    try {
        const loaded: unknown = await import(specifier);
        const value = typeof loaded === "object" && loaded !== null ? (loaded as {default?: unknown}).default : loaded;
        return typeof value === "string" && value !== "" ? value : undefined;
    } catch {
        return undefined;
    }
}

async function isExecutable(path: string): Promise<boolean> {
    try {
        await access(path, constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

function nonEmpty(value: string | null | undefined): string | undefined {
    return value === undefined || value === null || value.trim() === "" ? undefined : value;
}
