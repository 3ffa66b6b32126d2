/**
 * What the web UI and `doctor` show about newer firmware (issue 6 item 5): recent camera HTTP
 * requests, unknown endpoints (unknown bootstrap paths, sinkholed hosts, unknown paths with a
 * `version` header) and every firmware version seen, with where it was seen. Everything is bounded:
 * rings of recent requests and capped maps, so a misbehaving device cannot grow memory. No I/O;
 * the clock is injected. The bootstrap `token` query parameter is redacted before anything is kept.
 */
import type {CameraFamily} from "../model/camera.js";
import {deviceFamilyOf, deviceModelOf} from "../protocol/deviceFamily.js";
import type {BootstrapKind} from "./bootstrapRoutes.js";

/** Why a request counts as unknown. */
export type UnknownRequestKind = "unknown-bootstrap" | "sinkhole" | "unknown-path" | "bad-method";

/** Where a firmware version was seen. */
export type FirmwareSource = "http" | "code4" | "mqtt";

/** One camera HTTP request as the server answered it. */
export interface RequestNote {
    /** The bootstrap kind, or "other" for a request that is not a bootstrap call. */
    readonly kind: BootstrapKind | "other";
    /** Set when the request counts as unknown (it also goes to the unknown ring and endpoint table). */
    readonly unknown?: UnknownRequestKind | undefined;
    readonly method: string;
    /** Normalised Host header, or null. */
    readonly host: string | null;
    readonly path: string;
    /** Raw query string; `token` is redacted when stored. */
    readonly query: string;
    readonly firmware: string | null;
    readonly deviceId: string | null;
    readonly remoteAddress: string;
    readonly status: number;
}

export interface RequestNoteJson extends Omit<RequestNote, "unknown" | "query"> {
    readonly at: string;
    readonly unknown: UnknownRequestKind | null;
    readonly query: string;
}

export interface UnknownEndpointJson {
    readonly kind: UnknownRequestKind;
    readonly method: string;
    readonly host: string | null;
    readonly path: string;
    readonly count: number;
    readonly firstSeenAt: string;
    readonly lastSeenAt: string;
    readonly lastFirmware: string | null;
    readonly lastDeviceId: string | null;
}

export interface FirmwareCameraJson {
    readonly id: string;
    readonly family: CameraFamily;
    readonly model: string | null;
}

export interface FirmwareVersionJson {
    readonly version: string;
    readonly sources: FirmwareSource[];
    readonly cameras: FirmwareCameraJson[];
    readonly firstSeenAt: string;
    readonly lastSeenAt: string;
}

export interface DiagnosticsJson {
    readonly generatedAt: string;
    /** Bootstrap requests answered since start, by kind. */
    readonly bootstrapCounts: Readonly<Record<string, number>>;
    /** Newest first. */
    readonly unknownRequests: RequestNoteJson[];
    /** Most recently seen first. */
    readonly unknownEndpoints: UnknownEndpointJson[];
    /** Most recently seen first. */
    readonly firmwareVersions: FirmwareVersionJson[];
    /** Every camera HTTP request, newest first. */
    readonly recentRequests: RequestNoteJson[];
}

export interface DiagnosticsOptions {
    /** Default 100. */
    readonly maxUnknownRequests?: number | undefined;
    /** Default 50. */
    readonly maxRecentRequests?: number | undefined;
    /** Distinct unknown endpoints kept (the least recently seen goes). Default 256. */
    readonly maxEndpoints?: number | undefined;
    /** Default 64. */
    readonly maxFirmwareVersions?: number | undefined;
    /** Cameras listed per firmware version. Default 32. */
    readonly maxCamerasPerVersion?: number | undefined;
    /** Default Date.now. */
    readonly nowMs?: (() => number) | undefined;
}

interface StoredNote {
    readonly atMs: number;
    readonly note: RequestNote;
}

interface Endpoint {
    readonly kind: UnknownRequestKind;
    readonly method: string;
    readonly host: string | null;
    readonly path: string;
    count: number;
    readonly firstSeenAtMs: number;
    lastSeenAtMs: number;
    lastFirmware: string | null;
    lastDeviceId: string | null;
}

interface FirmwareEntry {
    readonly version: string;
    readonly sources: Set<FirmwareSource>;
    readonly cameras: Set<string>;
    readonly firstSeenAtMs: number;
    lastSeenAtMs: number;
    /** Order of the last sighting (the clock may not move between two). */
    lastSeenSeq: number;
}

/** Longest firmware string kept (real ones are 12 digits). */
const MAX_VERSION_LENGTH = 64;
const MAX_FIELD_LENGTH = 512;

export class BootstrapDiagnostics {
    readonly #nowMs: () => number;
    readonly #maxUnknown: number;
    readonly #maxRecent: number;
    readonly #maxEndpoints: number;
    readonly #maxVersions: number;
    readonly #maxCameras: number;
    readonly #unknown: StoredNote[] = [];
    readonly #recent: StoredNote[] = [];
    /** Insertion order = least recently seen first (entries are re-inserted on every hit). */
    readonly #endpoints = new Map<string, Endpoint>();
    readonly #versions = new Map<string, FirmwareEntry>();
    readonly #counts = new Map<string, number>();
    #seq = 0;

    constructor(options: DiagnosticsOptions = {}) {
        this.#nowMs = options.nowMs ?? Date.now;
        this.#maxUnknown = options.maxUnknownRequests ?? 100;
        this.#maxRecent = options.maxRecentRequests ?? 50;
        this.#maxEndpoints = options.maxEndpoints ?? 256;
        this.#maxVersions = options.maxFirmwareVersions ?? 64;
        this.#maxCameras = options.maxCamerasPerVersion ?? 32;
    }

    /** Records one camera request (and its firmware, when the request carried a `version` header). */
    noteRequest(input: RequestNote): void {
        const atMs = this.#nowMs();
        const note: RequestNote = {
            ...input,
            path: clip(input.path),
            query: clip(redactQuery(input.query)),
            host: input.host === null ? null : clip(input.host),
        };
        pushBounded(this.#recent, {atMs, note}, this.#maxRecent);
        if (note.kind !== "other" && note.kind !== "sinkhole") {
            this.#counts.set(note.kind, (this.#counts.get(note.kind) ?? 0) + 1);
        }
        if (note.unknown !== undefined) {
            pushBounded(this.#unknown, {atMs, note}, this.#maxUnknown);
            this.#noteEndpoint(note.unknown, note, atMs);
        }
        if (note.firmware !== null) {
            this.noteFirmware(note.deviceId, note.firmware, "http");
        }
    }

    /** A firmware version reported by `source` for `deviceId` (null when the reporter is not known). */
    noteFirmware(deviceId: string | null, version: string, source: FirmwareSource): void {
        const trimmed = version.trim();
        if (trimmed === "" || trimmed.length > MAX_VERSION_LENGTH) {
            return;
        }
        const atMs = this.#nowMs();
        let entry = this.#versions.get(trimmed);
        if (entry === undefined) {
            if (this.#versions.size >= this.#maxVersions) {
                const oldest = this.#oldestVersion();
                if (oldest !== undefined) {
                    this.#versions.delete(oldest);
                }
            }
            entry = {
                version: trimmed,
                sources: new Set(),
                cameras: new Set(),
                firstSeenAtMs: atMs,
                lastSeenAtMs: atMs,
                lastSeenSeq: 0,
            };
            this.#versions.set(trimmed, entry);
        }
        this.#seq += 1;
        entry.lastSeenAtMs = atMs;
        entry.lastSeenSeq = this.#seq;
        entry.sources.add(source);
        if (deviceId !== null && deviceId !== "" && entry.cameras.size < this.#maxCameras) {
            entry.cameras.add(clip(deviceId, 64));
        }
    }

    /** The recent requests of one camera (by device id or by its address), oldest first. */
    recentRequestsOf(deviceId: string, addresses: readonly string[] = []): RequestNoteJson[] {
        return this.#recent
            .filter(({note}) => note.deviceId === deviceId || addresses.includes(note.remoteAddress))
            .map(noteJson);
    }

    snapshot(): DiagnosticsJson {
        const endpoints = [...this.#endpoints.values()].reverse().map(
            (endpoint): UnknownEndpointJson => ({
                kind: endpoint.kind,
                method: endpoint.method,
                host: endpoint.host,
                path: endpoint.path,
                count: endpoint.count,
                firstSeenAt: iso(endpoint.firstSeenAtMs),
                lastSeenAt: iso(endpoint.lastSeenAtMs),
                lastFirmware: endpoint.lastFirmware,
                lastDeviceId: endpoint.lastDeviceId,
            }),
        );
        const versions = [...this.#versions.values()]
            .sort((a, b) => b.lastSeenSeq - a.lastSeenSeq)
            .map(
                (entry): FirmwareVersionJson => ({
                    version: entry.version,
                    sources: [...entry.sources].sort(),
                    cameras: [...entry.cameras].map((id) => ({
                        id,
                        family: deviceFamilyOf(id),
                        model: deviceModelOf(id) ?? null,
                    })),
                    firstSeenAt: iso(entry.firstSeenAtMs),
                    lastSeenAt: iso(entry.lastSeenAtMs),
                }),
            );
        return {
            generatedAt: iso(this.#nowMs()),
            bootstrapCounts: Object.fromEntries(this.#counts),
            unknownRequests: [...this.#unknown].reverse().map(noteJson),
            unknownEndpoints: endpoints,
            firmwareVersions: versions,
            recentRequests: [...this.#recent].reverse().map(noteJson),
        };
    }

    #noteEndpoint(kind: UnknownRequestKind, note: RequestNote, atMs: number): void {
        const key = `${kind} ${note.method} ${note.host ?? ""} ${note.path}`;
        let endpoint = this.#endpoints.get(key);
        if (endpoint === undefined) {
            endpoint = {
                kind,
                method: note.method,
                host: note.host,
                path: note.path,
                count: 0,
                firstSeenAtMs: atMs,
                lastSeenAtMs: atMs,
                lastFirmware: null,
                lastDeviceId: null,
            };
        } else {
            this.#endpoints.delete(key); // re-inserted below: the map stays ordered by last sight
        }
        endpoint.count += 1;
        endpoint.lastSeenAtMs = atMs;
        endpoint.lastFirmware = note.firmware ?? endpoint.lastFirmware;
        endpoint.lastDeviceId = note.deviceId ?? endpoint.lastDeviceId;
        this.#endpoints.set(key, endpoint);
        if (this.#endpoints.size > this.#maxEndpoints) {
            const oldest = this.#endpoints.keys().next();
            if (oldest.done !== true) {
                this.#endpoints.delete(oldest.value);
            }
        }
    }

    #oldestVersion(): string | undefined {
        let oldest: FirmwareEntry | undefined;
        for (const entry of this.#versions.values()) {
            if (oldest === undefined || entry.lastSeenSeq < oldest.lastSeenSeq) {
                oldest = entry;
            }
        }
        return oldest?.version;
    }
}

/** Query parameters whose values are secrets or per-boot tokens (the bootstrap `token`, passwords). */
const SECRET_QUERY_KEYS = new Set(["token", "pwd", "password", "p", "devtoken", "clitoken", "passwd"]);

/** `devicesCode=X&token=abc` → `devicesCode=X&token=<redacted>`; order and other parameters kept as sent. */
export function redactQuery(query: string): string {
    if (query === "") {
        return query;
    }
    return query
        .split("&")
        .map((part) => {
            const equals = part.indexOf("=");
            const rawKey = equals < 0 ? part : part.slice(0, equals);
            let key = rawKey;
            try {
                key = decodeURIComponent(rawKey.replaceAll("+", " "));
            } catch (error) {
                if (!(error instanceof URIError)) {
                    throw error;
                }
            }
            return equals >= 0 && SECRET_QUERY_KEYS.has(key.toLowerCase()) ? `${rawKey}=<redacted>` : part;
        })
        .join("&");
}

function noteJson({atMs, note}: StoredNote): RequestNoteJson {
    return {
        at: iso(atMs),
        kind: note.kind,
        unknown: note.unknown ?? null,
        method: note.method,
        host: note.host,
        path: note.path,
        query: note.query,
        firmware: note.firmware,
        deviceId: note.deviceId,
        remoteAddress: note.remoteAddress,
        status: note.status,
    };
}

function pushBounded<T>(ring: T[], item: T, max: number): void {
    ring.push(item);
    if (ring.length > max) {
        ring.splice(0, ring.length - max);
    }
}

function clip(text: string, max = MAX_FIELD_LENGTH): string {
    return text.length > max ? `${text.slice(0, max)}…` : text;
}

function iso(ms: number): string {
    return new Date(ms).toISOString();
}
