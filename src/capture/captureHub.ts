/**
 * The capture recorder (issue 6 item 5): implements the CaptureTap the camera and HTTP layers call
 * and the CaptureService the HTTP route starts captures with. Each record is built once
 * (captureRecords.ts, secrets redacted) and written as one JSON line to every sink capturing that camera.
 *
 * - Attribution: by the id the producer names; else (UDP code 20 before any binding, HTTP without
 *   `devicesCode`) by the JSON's `devTarget`/`uid`, else by the peer's IP among the addresses the
 *   camera is known at (its TCP peer, its bootstrap requests, `addressesOf`).
 * - Media (UDP/TCP cmd 1, 4, 6 in; 605 out) is recorded in full for the first `detailedMediaPackets`
 *   per camera, direction and cmd, then as one `summary` record per `summaryIntervalMs`, so a capture
 *   of a live stream stays small (a few hundred bytes a second).
 * - Cost while nothing is captured: producers see `isActive === false` and call nothing.
 */
import type {
    CaptureDirection,
    CapturedHeader,
    CaptureHandle,
    CapturePeer,
    CaptureService,
    CaptureSink,
    CaptureStartOptions,
    CaptureTap,
    HttpCaptureExchange,
    MqttCaptureEvent,
} from "../model/captureTap.js";
import {deviceFamilyOf, deviceModelOf} from "../protocol/deviceFamily.js";
import {type Logger, silentLogger} from "../util/log.js";
import {
    baseRecord,
    type CaptureRecord,
    httpRequestRecord,
    httpResponseRecord,
    type MediaSummary,
    mqttRecord,
    packetRecord,
    summaryRecord,
} from "./captureRecords.js";
import {REDACTED_KEYS, redactJson} from "./redact.js";

export interface CaptureHubOptions {
    /** Media packets recorded in full per camera, direction and cmd before summaries take over. Default 8. */
    readonly detailedMediaPackets?: number | undefined;
    /** One media summary record per this long. Default 1000 ms. */
    readonly summaryIntervalMs?: number | undefined;
    /** Facts for the first line (camera state, its recent bootstrap requests); secrets are redacted. */
    readonly describe?: ((cameraId: string) => Readonly<Record<string, unknown>> | undefined) | undefined;
    /** IP addresses the camera is known at (for HTTP without devicesCode and unbound UDP). */
    readonly addressesOf?: ((cameraId: string) => readonly string[]) | undefined;
    /** Whether the MQTT side calls the tap (stated in the first line). Default false. */
    readonly isMqttTapped?: boolean | undefined;
    readonly nowMs?: (() => number) | undefined;
    readonly log?: Logger | undefined;
}

export const DEFAULT_DETAILED_MEDIA_PACKETS = 8;
export const DEFAULT_SUMMARY_INTERVAL_MS = 1000;
/** Addresses remembered per captured camera. */
const MAX_ADDRESSES = 8;

/** Media commands: cmd 1 JPEG, 4 G.711, 6 PCM from the camera; 605 confirms to it (protocol-notes.md §5). */
const MEDIA_IN: ReadonlySet<number> = new Set([1, 4, 6]);
const MEDIA_OUT: ReadonlySet<number> = new Set([605]);

interface Recording {
    readonly sink: CaptureSink;
    readonly camera: CameraCapture;
    readonly timer: NodeJS.Timeout;
    records: number;
    isStopped: boolean;
}

interface SummaryState extends MediaSummary {
    readonly peer: string;
}

/** The shared state of every capture of one camera. */
class CameraCapture {
    readonly id: string;
    readonly recordings = new Set<Recording>();
    readonly addresses = new Set<string>();
    /** `${transport} ${dir} ${cmd}` → media packets recorded in full so far. */
    readonly detailed = new Map<string, number>();
    readonly summaries = new Map<string, SummaryState>();

    constructor(id: string) {
        this.id = id;
    }

    learnAddress(address: string): void {
        if (address !== "" && this.addresses.size < MAX_ADDRESSES) {
            this.addresses.add(address);
        }
    }
}

export class CaptureHub implements CaptureTap, CaptureService {
    readonly #options: CaptureHubOptions;
    readonly #nowMs: () => number;
    readonly #log: Logger;
    readonly #cameras = new Map<string, CameraCapture>();

    constructor(options: CaptureHubOptions = {}) {
        this.#options = options;
        this.#nowMs = options.nowMs ?? Date.now;
        this.#log = options.log ?? silentLogger;
    }

    get isActive(): boolean {
        return this.#cameras.size > 0;
    }

    isCapturing(cameraId: string): boolean {
        return this.#cameras.has(cameraId);
    }

    // ---- CaptureService --------------------------------------------------------------------------

    start(cameraId: string, sink: CaptureSink, options: CaptureStartOptions): CaptureHandle {
        let camera = this.#cameras.get(cameraId);
        if (camera === undefined) {
            camera = new CameraCapture(cameraId);
            for (const address of this.#options.addressesOf?.(cameraId) ?? []) {
                camera.learnAddress(address);
            }
            this.#cameras.set(cameraId, camera);
        }
        const timer = setTimeout(() => stop("time is up"), options.durationMs);
        timer.unref();
        const recording: Recording = {sink, camera, timer, records: 0, isStopped: false};
        const stop = (reason: string): void => this.#stopRecording(recording, reason);
        camera.recordings.add(recording);
        this.#writeTo(recording, this.#startRecord(cameraId, options.durationMs, camera));
        return {stop};
    }

    /** Ends every capture (server stopping). */
    stopAll(reason: string): void {
        for (const camera of [...this.#cameras.values()]) {
            for (const recording of [...camera.recordings]) {
                this.#stopRecording(recording, reason);
            }
        }
    }

    // ---- CaptureTap ------------------------------------------------------------------------------

    packet(
        transport: "tcp" | "udp",
        direction: CaptureDirection,
        cameraId: string | undefined,
        peer: CapturePeer,
        header: CapturedHeader,
        payload: Uint8Array,
    ): void {
        for (const camera of this.#attribute(cameraId, peer.address, header, payload)) {
            if (cameraId !== undefined && transport === "tcp") {
                camera.learnAddress(peer.address);
            }
            const media = direction === "in" ? MEDIA_IN : MEDIA_OUT;
            if (media.has(header.command) && !this.#isDetailedMedia(camera, transport, direction, header.command)) {
                this.#summarise(camera, transport, direction, peer, header);
                continue;
            }
            this.#write(camera, packetRecord(this.#nowMs(), camera.id, transport, direction, peer, header, payload));
        }
    }

    http(exchange: HttpCaptureExchange): void {
        const cameras =
            exchange.deviceId === undefined ? this.#byAddress(exchange.remoteAddress) : this.#byId(exchange.deviceId);
        for (const camera of cameras) {
            camera.learnAddress(exchange.remoteAddress);
            const atMs = this.#nowMs();
            this.#write(
                camera,
                httpRequestRecord(atMs, camera.id, {
                    remoteAddress: exchange.remoteAddress,
                    method: exchange.method,
                    url: exchange.url,
                    rawHeaders: exchange.rawHeaders,
                    body: exchange.requestBody,
                    bodyBytes: exchange.requestBodyBytes,
                }),
            );
            this.#write(
                camera,
                httpResponseRecord(atMs, camera.id, exchange.status, exchange.responseHeaders, exchange.responseBody),
            );
        }
    }

    mqtt(cameraId: string, direction: CaptureDirection, event: MqttCaptureEvent): void {
        const camera = this.#cameras.get(cameraId);
        if (camera !== undefined) {
            this.#write(camera, mqttRecord(this.#nowMs(), cameraId, direction, event));
        }
    }

    // ---- internals -------------------------------------------------------------------------------

    #startRecord(cameraId: string, durationMs: number, camera: CameraCapture): CaptureRecord {
        const record = baseRecord(this.#nowMs(), cameraId, "capture");
        record["event"] = "start";
        record["seconds"] = Math.round(durationMs / 1000);
        record["family"] = deviceFamilyOf(cameraId);
        record["model"] = deviceModelOf(cameraId) ?? null;
        record["directions"] = {in: "camera → bridge", out: "bridge → camera"};
        record["redacted"] = REDACTED_KEYS;
        record["mqttRecorded"] = this.#options.isMqttTapped === true;
        record["knownAddresses"] = [...camera.addresses];
        let described: Readonly<Record<string, unknown>> | undefined;
        try {
            described = this.#options.describe?.(cameraId);
        } catch (error) {
            this.#log.error("describing the captured camera failed", {error, camera: cameraId});
        }
        record["state"] = described === undefined ? null : redactJson(described);
        return record;
    }

    #stopRecording(recording: Recording, reason: string): void {
        if (recording.isStopped) {
            return;
        }
        const camera = recording.camera;
        this.#flushSummaries(camera, [recording]);
        recording.isStopped = true;
        clearTimeout(recording.timer);
        camera.recordings.delete(recording);
        if (camera.recordings.size === 0 && this.#cameras.get(camera.id) === camera) {
            this.#cameras.delete(camera.id);
        }
        const end = baseRecord(this.#nowMs(), camera.id, "capture");
        end["event"] = "end";
        end["reason"] = reason;
        end["records"] = recording.records;
        try {
            recording.sink.write(JSON.stringify(end));
            recording.sink.end(reason);
        } catch (error) {
            this.#log.error("capture sink failed", {error, camera: camera.id});
        }
    }

    /** The captures a packet belongs to. */
    #attribute(
        cameraId: string | undefined,
        address: string,
        header: CapturedHeader,
        payload: Uint8Array,
    ): readonly CameraCapture[] {
        if (cameraId !== undefined) {
            return this.#byId(cameraId);
        }
        if (header.command === 0) {
            const named = namedDevice(payload);
            if (named !== undefined && this.#cameras.has(named)) {
                return this.#byId(named);
            }
        }
        return this.#byAddress(address);
    }

    #byId(cameraId: string): readonly CameraCapture[] {
        const camera = this.#cameras.get(cameraId);
        return camera === undefined ? NONE : [camera];
    }

    #byAddress(address: string): readonly CameraCapture[] {
        const found: CameraCapture[] = [];
        for (const camera of this.#cameras.values()) {
            if (camera.addresses.has(address)) {
                found.push(camera);
            }
        }
        return found;
    }

    #isDetailedMedia(camera: CameraCapture, transport: string, direction: string, command: number): boolean {
        const key = `${transport} ${direction} ${command}`;
        const count = camera.detailed.get(key) ?? 0;
        if (count >= (this.#options.detailedMediaPackets ?? DEFAULT_DETAILED_MEDIA_PACKETS)) {
            return false;
        }
        camera.detailed.set(key, count + 1);
        return true;
    }

    #summarise(
        camera: CameraCapture,
        transport: "tcp" | "udp",
        direction: CaptureDirection,
        peer: CapturePeer,
        header: CapturedHeader,
    ): void {
        const nowMs = this.#nowMs();
        const key = `${transport} ${direction} ${header.command}`;
        let summary = camera.summaries.get(key);
        if (summary === undefined) {
            summary = {
                command: header.command,
                packets: 0,
                bytes: 0,
                firstPkgId: header.packageId,
                lastPkgId: header.packageId,
                frameHeads: 0,
                startedAtMs: nowMs,
                peer: `${peer.address}:${peer.port}`,
            };
            camera.summaries.set(key, summary);
        }
        summary.packets += 1;
        summary.bytes += header.payloadLength;
        summary.lastPkgId = header.packageId;
        if (header.msgFlag === 250) {
            summary.frameHeads += 1;
        }
        if (nowMs - summary.startedAtMs >= (this.#options.summaryIntervalMs ?? DEFAULT_SUMMARY_INTERVAL_MS)) {
            camera.summaries.delete(key);
            this.#write(camera, summaryRecord(nowMs, camera.id, transport, direction, summary.peer, summary));
        }
    }

    /** Writes the open summaries (to `only`, or to every recording of the camera). */
    #flushSummaries(camera: CameraCapture, only: readonly Recording[]): void {
        const nowMs = this.#nowMs();
        for (const [key, summary] of camera.summaries) {
            const [transport, direction] = key.split(" ");
            const record = summaryRecord(
                nowMs,
                camera.id,
                transport === "tcp" ? "tcp" : "udp",
                direction === "out" ? "out" : "in",
                summary.peer,
                summary,
            );
            const line = JSON.stringify(record);
            for (const recording of only) {
                this.#writeLine(recording, line);
            }
        }
        if (only.length === camera.recordings.size) {
            camera.summaries.clear();
        }
    }

    #write(camera: CameraCapture, record: CaptureRecord): void {
        const line = JSON.stringify(record);
        for (const recording of camera.recordings) {
            this.#writeLine(recording, line);
        }
    }

    #writeTo(recording: Recording, record: CaptureRecord): void {
        this.#writeLine(recording, JSON.stringify(record));
    }

    #writeLine(recording: Recording, line: string): void {
        if (recording.isStopped) {
            return;
        }
        recording.records += 1;
        try {
            recording.sink.write(line);
        } catch (error) {
            this.#log.error("capture sink failed", {error, camera: recording.camera.id});
        }
    }
}

const NONE: readonly CameraCapture[] = [];

/** `devTarget` (code 51) or `uid` (code 100) of a JSON payload, if any. */
function namedDevice(payload: Uint8Array): string | undefined {
    let value: unknown;
    try {
        value = JSON.parse(Buffer.from(payload).toString("utf8"));
    } catch (error) {
        if (error instanceof SyntaxError) {
            return undefined;
        }
        throw error;
    }
    if (typeof value !== "object" || value === null) {
        return undefined;
    }
    const fields = value as {devTarget?: unknown; uid?: unknown};
    if (typeof fields.devTarget === "string") {
        return fields.devTarget;
    }
    return typeof fields.uid === "string" ? fields.uid : undefined;
}
