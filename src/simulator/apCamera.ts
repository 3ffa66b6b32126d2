/**
 * The AP-mode personality of the simulated camera (protocol-notes.md §11): a TCP server playing the camera
 * at 192.168.169.1:6123, built only from protocol/ encoders.
 *
 * Answers: cmd 115 → cmd 115; 501 → `{ "code":501, "target":"deadbeef","status":200}`; 502 content 4 (base
 * info), 204 (Wi-Fi join, recorded), 299 (restart: replies, then drops the link), 218 (card present), 3/2/1
 * (live JPEG over TCP, stalling without 605 like the real camera, §11.2) and 0 (stop), other content codes
 * echoed; SD codes 400 → 401, 402 → 403 + cmd 8 XML in several packets, 404 → 405, 406 → 407 + cmd 7 AVI
 * chunks + 411, 408 → 409, 412 → 413. cmd 100 is answered, cmd 605 advances the download window.
 *
 * The download sends at most `windowPackets` unconfirmed cmd 7 packets, so a client that never sends 605
 * confirms stalls, as the real camera does (§9.5).
 *
 * Faults: never answer anything; go silent from a given step; reject the login; drop the AP when 204
 * arrives (firmware 202509111709); cut the connection (or go silent) in the middle of a download; split
 * every write into small TCP segments glued across message boundaries; interleave stale PCM and
 * unsolicited JSON with the download; retransmit chunks; report no SD card.
 */
import {EventEmitter} from "node:events";
import net from "node:net";
import type {Duplex} from "node:stream";
import {
    AP_DEV_TARGET,
    ApCode,
    encodeSdCatalogue,
    isSdDate,
    SD_FILE_MISSING,
    type SdCatalogue,
    type SdFileKey,
} from "../protocol/apMessages.js";
import {Cmd, ContentCode, MsgFlag} from "../protocol/commands.js";
import {decodeConfirm} from "../protocol/confirm.js";
import {ProtocolError} from "../protocol/errors.js";
import {DEVICE_FORWARD_ID, encodeJpegFragments} from "../protocol/jpegFragments.js";
import {decodeJson, type WireMessage} from "../protocol/messages.js";
import {encodePacket, type Packet} from "../protocol/packet.js";
import {TcpFramer} from "../protocol/tcpFramer.js";
import {hexPreview} from "../util/hex.js";
import {listen} from "../util/listen.js";
import {type Logger, silentLogger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {baseInfoContent, DEFAULT_FIRMWARE, encodeDeviceJsonPacket, encodeHandJson} from "./deviceMessages.js";
import {Prng, seedFromString} from "./prng.js";
import {createSyntheticJpegSource, type SyntheticJpegSource} from "./syntheticJpeg.js";

/** One file on the simulated card: `/sd/YYYYMMDD/HH/MM.avi`. */
export interface ApRecording extends SdFileKey {
    readonly bytes: Buffer;
}

/** Steps from which `silentFrom` stops answering (each includes every later one). */
export type ApSilentStep = "115" | "501" | "502" | "sd" | "download";
const SILENT_ORDER: readonly ApSilentStep[] = ["115", "501", "502", "sd", "download"];

export interface ApCameraFaults {
    /** Accept connections and read everything, never answer. */
    readonly neverAnswer?: boolean;
    /** Answer the steps before this one, then nothing: "501" answers cmd 115 only. */
    readonly silentFrom?: ApSilentStep;
    /** The 501 reply's status (default 200); anything else is "AP password verification failed". */
    readonly connectStatus?: number;
    /** Drop the connection as soon as 204 arrives instead of replying (firmware 202509111709, §11.2). */
    readonly dropOnWifiJoin?: boolean;
    /** Close the connection (FIN) once this many bytes of a file were sent. */
    readonly cutDownloadAfterBytes?: number;
    /** Stop sending file data (connection kept open) once this many bytes were sent. */
    readonly stallDownloadAfterBytes?: number;
    /** Send the 411 end marker once this many bytes of a file were sent, and nothing more. */
    readonly endDownloadEarlyAfterBytes?: number;
    /** Leave `fileSize` out of the 403 reply (older firmware), so the client must find the end of the XML. */
    readonly omitCatalogueSize?: boolean;
    /** Write everything in pieces of 1..N bytes, one per event-loop turn, across message boundaries. */
    readonly splitWritesMaxBytes?: number;
    /** Every few chunks, a stale cmd 6 PCM packet and an unsolicited JSON message (§11.2 quirks). */
    readonly interleaveNoise?: boolean;
    /** Send every Nth cmd 7 chunk twice with the same pkgId (a retransmission). */
    readonly duplicateChunkEvery?: number;
    /** 218 answers sdDevStatus −1. */
    readonly noSdCard?: boolean;
    /** PRNG seed of the split sizes; default from the id. */
    readonly seed?: number;
}

export interface ApCameraOptions {
    /** Device id, default "0800c00128F8". */
    readonly id?: string;
    readonly firmware?: string;
    readonly wifiName?: string;
    /** Listen address for `start()`, default 127.0.0.1. */
    readonly host?: string;
    /** Listen port for `start()`, default 0 (ephemeral). */
    readonly port?: number;
    /** The SD card; default `defaultApRecordings()`. */
    readonly recordings?: readonly ApRecording[];
    /** cmd 7 payload bytes, default 1004. */
    readonly chunkBytes?: number;
    /** Unconfirmed cmd 7 packets in flight, default 32. */
    readonly windowPackets?: number;
    /** cmd 8 payload bytes, default 64 (so a catalogue spans several packets). */
    readonly xmlChunkBytes?: number;
    /** Live frames per second, default 5. */
    readonly fps?: number;
    /** Live stops sending after this long without a 605, default 4000 (§9.5). */
    readonly stallAfterMs?: number;
    readonly faults?: ApCameraFaults;
    readonly log?: Logger;
}

export interface ApCameraStats {
    connections: number;
    jsonReceived: number;
    badInput: number;
    confirmsReceived: number;
    confirmedIds: number;
    heartbeatsReceived: number;
    chunksSent: number;
    fileBytesSent: number;
    downloadsStarted: number;
    downloadsCompleted: number;
    downloadsCut: number;
    framesSent: number;
}

export interface ApCameraEvents {
    connection: [];
    message: [message: WireMessage];
    wifiJoined: [credentials: {readonly ssid: string; readonly password: string}];
    rebootRequested: [];
    downloadCut: [bytes: number];
    downloadCompleted: [key: SdFileKey];
    /** The live stream stopped sending because no 605 came for `stallAfterMs`. */
    liveStalled: [];
    sessionClosed: [];
}

const MAX_RECORDED_MESSAGES = 1000;

/** A deterministic fake AVI of `sizeBytes` (RIFF header, then PRNG bytes). */
export function syntheticAviBytes(key: SdFileKey, sizeBytes: number): Buffer {
    const prng = new Prng(seedFromString(`${key.date}-${key.hours}-${key.minute}`));
    const bytes = prng.bytes(sizeBytes);
    const header = Buffer.from("RIFF\0\0\0\0AVI LIST", "latin1");
    header.writeUInt32LE(Math.max(sizeBytes - 8, 0), 4);
    header.copy(bytes, 0, 0, Math.min(header.length, sizeBytes));
    return bytes;
}

/** Three recordings on two days, 40–70 KB each. */
export function defaultApRecordings(): ApRecording[] {
    const keys: [SdFileKey, number][] = [
        [{date: 20230123, hours: 2, minute: 5}, 40_000],
        [{date: 20230123, hours: 2, minute: 6}, 52_345],
        [{date: 20230124, hours: 14, minute: 59}, 70_001],
    ];
    return keys.map(([key, size]) => ({...key, bytes: syntheticAviBytes(key, size)}));
}

export class ApCamera extends EventEmitter<ApCameraEvents> {
    readonly id: string;
    readonly stats: ApCameraStats = {
        connections: 0,
        jsonReceived: 0,
        badInput: 0,
        confirmsReceived: 0,
        confirmedIds: 0,
        heartbeatsReceived: 0,
        chunksSent: 0,
        fileBytesSent: 0,
        downloadsStarted: 0,
        downloadsCompleted: 0,
        downloadsCut: 0,
        framesSent: 0,
    };
    /** JSON messages received (all sessions, the newest MAX_RECORDED_MESSAGES). */
    readonly messages: WireMessage[] = [];
    readonly #options: ApCameraOptions;
    readonly #log: Logger;
    readonly #sessions = new Set<ApSession>();
    readonly #recordings: readonly ApRecording[];
    readonly #badInput = new RateLimitedCounter();
    #server: net.Server | undefined;
    #jpegSource: SyntheticJpegSource | undefined;
    #wifi: {readonly ssid: string; readonly password: string} | undefined;
    #lastUnixTimer: number | undefined;

    constructor(options: ApCameraOptions = {}) {
        super();
        this.#options = options;
        this.id = options.id ?? "0800c00128F8";
        this.#log = (options.log ?? silentLogger).child(`sim:ap:${this.id}`);
        this.#recordings = options.recordings ?? defaultApRecordings();
        for (const recording of this.#recordings) {
            if (!isSdDate(recording.date) || recording.hours > 23 || recording.minute > 59) {
                throw new RangeError(`bad recording key ${recording.date}-${recording.hours}-${recording.minute}`);
            }
        }
    }

    /** The Wi-Fi credentials of the last 204, if any. */
    get wifi(): {readonly ssid: string; readonly password: string} | undefined {
        return this.#wifi;
    }

    /** `unixTimer` of the last 501. */
    get lastUnixTimer(): number | undefined {
        return this.#lastUnixTimer;
    }

    get recordings(): readonly ApRecording[] {
        return this.#recordings;
    }

    /** The recording at `key`, if the card has it. */
    recording(key: SdFileKey): ApRecording | undefined {
        return this.#recordings.find(
            (entry) => entry.date === key.date && entry.hours === key.hours && entry.minute === key.minute,
        );
    }

    /** Listens on `host:port` (default 127.0.0.1:0) and resolves to the bound port. */
    async start(): Promise<number> {
        const server = net.createServer((socket) => {
            socket.setNoDelay(true);
            socket.on("error", (error) => this.#log.debug(() => `ap socket error: ${error.message}`));
            this.attach(socket);
        });
        server.on("error", (error) => this.#log.warn(`ap server error: ${error.message}`));
        this.#server = server;
        return await listen(server, this.#options.port ?? 0, this.#options.host ?? "127.0.0.1", "simulated AP camera");
    }

    /** Serves one client over any duplex stream (a socket, or one side of `duplexPair()`). */
    attach(stream: Duplex): void {
        this.stats.connections += 1;
        const session = new ApSession(this, stream, this.#options, this.#log);
        this.#sessions.add(session);
        stream.once("close", () => {
            session.dispose();
            this.#sessions.delete(session);
            this.emit("sessionClosed");
        });
        this.emit("connection");
    }

    /** Closes the server and every session. */
    async stop(): Promise<void> {
        for (const session of this.#sessions) {
            session.destroy();
        }
        const server = this.#server;
        this.#server = undefined;
        if (server !== undefined) {
            await new Promise<void>((resolve) => server.close(() => resolve()));
        }
    }

    // ---- for sessions ------------------------------------------------------------------------

    /** @internal */
    recordMessage(message: WireMessage): void {
        this.stats.jsonReceived += 1;
        this.messages.push(message);
        if (this.messages.length > MAX_RECORDED_MESSAGES) {
            this.messages.shift();
        }
        this.emit("message", message);
    }

    /** @internal */
    recordWifi(ssid: string, password: string): void {
        this.#wifi = {ssid, password};
        this.emit("wifiJoined", this.#wifi);
    }

    /** @internal */
    recordUnixTimer(value: number): void {
        this.#lastUnixTimer = value;
    }

    /** @internal */
    countBad(kind: string, raw: Uint8Array, message: string): void {
        this.stats.badInput += 1;
        const suppressed = this.#badInput.hit(kind);
        if (suppressed !== undefined) {
            this.#log.warn(`bad input from the client (${kind}): ${message}`, {raw: hexPreview(raw)});
        }
    }

    /** @internal */
    jpegSource(): SyntheticJpegSource {
        this.#jpegSource ??= createSyntheticJpegSource({width: 160, height: 120});
        return this.#jpegSource;
    }
}

interface DownloadState {
    readonly recording: ApRecording;
    offset: number;
    chunks: number;
    readonly unconfirmed: Set<number>;
    ended: boolean;
}

/** One client connection. */
class ApSession {
    readonly #camera: ApCamera;
    readonly #stream: Duplex;
    readonly #options: ApCameraOptions;
    readonly #faults: ApCameraFaults;
    readonly #log: Logger;
    readonly #framer = new TcpFramer();
    readonly #writer: SegmentWriter;
    #packageId: number;
    #download: DownloadState | undefined;
    #liveTimer: NodeJS.Timeout | undefined;
    #liveCounter = 0;
    #liveStalled = false;
    #lastConfirmAtMs = Date.now();

    constructor(camera: ApCamera, stream: Duplex, options: ApCameraOptions, log: Logger) {
        this.#camera = camera;
        this.#stream = stream;
        this.#options = options;
        this.#faults = options.faults ?? {};
        this.#log = log;
        const prng = new Prng(this.#faults.seed ?? seedFromString(camera.id));
        this.#packageId = 1000 + prng.below(100_000);
        this.#writer = new SegmentWriter(stream, this.#faults.splitWritesMaxBytes, prng);
        stream.on("data", (chunk: Buffer) => this.#handleData(chunk));
    }

    destroy(): void {
        this.dispose();
        this.#stream.destroy();
    }

    dispose(): void {
        clearInterval(this.#liveTimer);
        this.#liveTimer = undefined;
        this.#download = undefined;
    }

    #handleData(chunk: Buffer): void {
        let packets: Packet[];
        try {
            packets = this.#framer.push(chunk);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#camera.countBad("tcp-framing", error.raw ?? chunk, error.message);
            this.#stream.destroy();
            return;
        }
        for (const packet of packets) {
            this.#handlePacket(packet);
        }
    }

    #isSilent(step: ApSilentStep): boolean {
        if (this.#faults.neverAnswer === true) {
            return true;
        }
        const from = this.#faults.silentFrom;
        return from !== undefined && SILENT_ORDER.indexOf(step) >= SILENT_ORDER.indexOf(from);
    }

    #handlePacket(packet: Packet): void {
        switch (packet.header.command) {
            case Cmd.json:
                this.#handleJsonPacket(packet);
                return;
            case Cmd.liveMotion:
                if (!this.#isSilent("115")) {
                    this.#send(encodePacket({command: Cmd.liveMotion, forwardId: DEVICE_FORWARD_ID}));
                }
                return;
            case Cmd.heartbeat:
                this.#camera.stats.heartbeatsReceived += 1;
                if (this.#faults.neverAnswer !== true) {
                    this.#send(encodePacket({command: Cmd.heartbeat, forwardId: DEVICE_FORWARD_ID}));
                }
                return;
            case Cmd.confirm:
                this.#handleConfirm(packet);
                return;
            case Cmd.directMotion:
                if (!this.#isSilent("502")) {
                    this.#sendJson(
                        encodeHandJson([
                            ["code", Cmd.directMotion],
                            ["devId", this.#camera.id],
                        ]),
                    );
                }
                return;
            default:
                this.#camera.countBad("unknown-cmd", packet.payload, `cmd ${packet.header.command}`);
        }
    }

    #handleConfirm(packet: Packet): void {
        let ids: number[];
        try {
            ids = decodeConfirm(packet.payload);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#camera.countBad("bad-confirm", packet.payload, error.message);
            return;
        }
        this.#camera.stats.confirmsReceived += 1;
        this.#camera.stats.confirmedIds += ids.length;
        this.#lastConfirmAtMs = Date.now();
        const download = this.#download;
        if (download !== undefined) {
            for (const id of ids) {
                download.unconfirmed.delete(id);
            }
            this.#pump();
        }
    }

    #handleJsonPacket(packet: Packet): void {
        let message: WireMessage;
        try {
            message = decodeJson(packet.payload);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#camera.countBad("bad-json", packet.payload, error.message);
            return;
        }
        this.#camera.recordMessage(message);
        switch (message.code) {
            case ApCode.connect:
                this.#handleConnect(message);
                return;
            case ApCode.command:
                if (!this.#isSilent("502")) {
                    this.#handleCommand(message);
                }
                return;
            case ApCode.sdDates:
            case ApCode.sdFiles:
            case ApCode.sdFileInfo:
            case ApCode.sdDownload:
            case ApCode.sdStop:
            case ApCode.sdDelete:
                if (!this.#isSilent("sd")) {
                    this.#handleSd(message);
                }
                return;
            default:
                this.#log.debug(() => `unhandled code ${message.code}`);
        }
    }

    #handleConnect(message: WireMessage): void {
        if (this.#isSilent("501")) {
            return;
        }
        const unixTimer = message["unixTimer"];
        if (typeof unixTimer === "number") {
            this.#camera.recordUnixTimer(unixTimer);
        }
        const status = this.#faults.connectStatus ?? 200;
        // Spelled as intx82 logged it (§11.1 step 3), leading space included.
        this.#sendJson(`{ "code":${ApCode.connect}, "target":"${AP_DEV_TARGET}","status":${status}}`);
    }

    #handleCommand(message: WireMessage): void {
        const content = message["content"];
        if (typeof content !== "object" || content === null || Array.isArray(content)) {
            this.#camera.countBad("bad-502", Buffer.from(JSON.stringify(message)), "502 without content");
            return;
        }
        const fields = content as Record<string, unknown>;
        const code = fields["code"];
        switch (code) {
            case ContentCode.baseInfo:
                this.#sendCommandReply(
                    baseInfoContent({
                        irLed: 0,
                        devPower: 87,
                        speedGrade: 1,
                        moveAlert: 0,
                        sdMoveMode: 0,
                        wifiName: this.#options.wifiName ?? "",
                        instLed: 1,
                        sdDevStatus: this.#faults.noSdCard === true ? -1 : 1,
                        mirrorFlip: 0,
                        version: this.#options.firmware ?? DEFAULT_FIRMWARE,
                    }),
                );
                return;
            case ContentCode.setWifi: {
                const ssid = fields["s"];
                const password = fields["p"];
                if (typeof ssid === "string" && typeof password === "string") {
                    this.#camera.recordWifi(ssid, password);
                }
                if (this.#faults.dropOnWifiJoin === true) {
                    this.#writer.afterFlush(() => this.#stream.destroy());
                    return;
                }
                this.#sendCommandReply([
                    ["code", ContentCode.setWifi],
                    ["status", 200],
                ]);
                return;
            }
            case ContentCode.reboot:
                this.#sendCommandReply([["code", ContentCode.reboot]]);
                this.#camera.emit("rebootRequested");
                this.#writer.afterFlush(() => this.#stream.end()); // the AP goes away while it restarts
                return;
            case ContentCode.sdCardStatus:
                this.#sendCommandReply([
                    ["code", ContentCode.sdCardStatus],
                    ["sdDevStatus", this.#faults.noSdCard === true ? -1 : 1],
                ]);
                return;
            case ContentCode.openAudioOpenVideo:
            case ContentCode.closeAudioOpenVideo:
            case ContentCode.openAudioCloseVideo:
                this.#sendCommandReply([["code", code]]);
                this.#startLive();
                return;
            case ContentCode.closeAudioCloseVideo:
                this.#stopLive();
                this.#sendCommandReply([["code", ContentCode.closeAudioCloseVideo]]);
                return;
            default:
                this.#sendCommandReply([
                    ["code", typeof code === "number" ? code : -1],
                    ["status", 200],
                ]);
        }
    }

    #handleSd(message: WireMessage): void {
        const key = readKey(message);
        switch (message.code) {
            case ApCode.sdDates: {
                const dates = [...new Set(this.#camera.recordings.map((entry) => entry.date))].sort((a, b) => a - b);
                this.#sendJson(
                    encodeHandJson([
                        ["code", ApCode.sdDatesReply],
                        ["status", this.#faults.noSdCard === true ? -1 : 200],
                        ["dateNum", dates.length],
                        ["devId", this.#camera.id],
                        ["forwardId", ""],
                        ["dates", dates],
                    ]),
                );
                return;
            }
            case ApCode.sdFiles: {
                const date = typeof message["date"] === "number" ? message["date"] : 0;
                const xml = encodeSdCatalogue(catalogueOf(this.#camera.recordings, date));
                const sizeField: [string, unknown][] =
                    this.#faults.omitCatalogueSize === true ? [] : [["fileSize", xml.length]];
                this.#sendJson(
                    encodeHandJson([["code", ApCode.sdFilesReply], ["status", 200], ["date", date], ...sizeField]),
                );
                const chunkBytes = this.#options.xmlChunkBytes ?? 64;
                for (let offset = 0; offset < xml.length; offset += chunkBytes) {
                    this.#send(
                        encodePacket(
                            {
                                command: Cmd.xml,
                                msgFlag: MsgFlag.whole,
                                forwardId: DEVICE_FORWARD_ID,
                                packageId: this.#nextId(),
                            },
                            xml.subarray(offset, offset + chunkBytes),
                        ),
                    );
                }
                return;
            }
            case ApCode.sdFileInfo: {
                const recording = key === undefined ? undefined : this.#camera.recording(key);
                this.#sendJson(
                    encodeHandJson([
                        ["code", ApCode.sdFileInfoReply],
                        ["status", 200],
                        ["fileName", recording === undefined ? "" : fileName(recording)],
                        ["fileSize", recording === undefined ? SD_FILE_MISSING : recording.bytes.length],
                    ]),
                );
                return;
            }
            case ApCode.sdDownload: {
                if (this.#isSilent("download")) {
                    return;
                }
                const recording = key === undefined ? undefined : this.#camera.recording(key);
                this.#sendJson(
                    encodeHandJson([
                        ["code", ApCode.sdDownloadReply],
                        ["status", recording === undefined ? -3 : 200],
                    ]),
                );
                if (recording !== undefined) {
                    this.#camera.stats.downloadsStarted += 1;
                    this.#download = {recording, offset: 0, chunks: 0, unconfirmed: new Set(), ended: false};
                    this.#pump();
                }
                return;
            }
            case ApCode.sdStop:
                this.#download = undefined;
                this.#sendJson(
                    encodeHandJson([
                        ["code", ApCode.sdStopReply],
                        ["status", 200],
                    ]),
                );
                return;
            case ApCode.sdDelete:
                // No effect, as on firmware 202509111709 (§11.2).
                this.#sendJson(
                    encodeHandJson([
                        ["code", ApCode.sdDeleteReply],
                        ["status", 200],
                    ]),
                );
                return;
            default:
                return;
        }
    }

    /** Sends file chunks while fewer than `windowPackets` are unconfirmed; 411 after the last one. */
    #pump(): void {
        const download = this.#download;
        if (download === undefined || download.ended) {
            return;
        }
        const window = this.#options.windowPackets ?? 32;
        const chunkBytes = this.#options.chunkBytes ?? 1004;
        const {bytes} = download.recording;
        const stallAt = this.#faults.stallDownloadAfterBytes;
        const cutAt = this.#faults.cutDownloadAfterBytes;
        const endAt = this.#faults.endDownloadEarlyAfterBytes;
        while (download.unconfirmed.size < window && download.offset < bytes.length) {
            if (stallAt !== undefined && download.offset >= stallAt) {
                return;
            }
            if (endAt !== undefined && download.offset >= endAt) {
                download.ended = true;
                this.#sendJson(encodeHandJson([["code", ApCode.sdStreamEnd]]));
                return;
            }
            const id = this.#nextId();
            const chunk = bytes.subarray(download.offset, download.offset + chunkBytes);
            const packet = encodePacket(
                {command: Cmd.avi, msgFlag: MsgFlag.whole, forwardId: DEVICE_FORWARD_ID, packageId: id},
                chunk,
            );
            this.#send(packet);
            download.offset += chunk.length;
            download.chunks += 1;
            download.unconfirmed.add(id);
            this.#camera.stats.chunksSent += 1;
            this.#camera.stats.fileBytesSent += chunk.length;
            const every = this.#faults.duplicateChunkEvery;
            if (every !== undefined && every > 0 && download.chunks % every === 0) {
                this.#send(packet);
            }
            if (this.#faults.interleaveNoise === true && download.chunks % 5 === 2) {
                this.#send(
                    encodePacket(
                        {
                            command: Cmd.pcm,
                            msgFlag: MsgFlag.whole,
                            forwardId: DEVICE_FORWARD_ID,
                            packageId: this.#nextId(),
                        },
                        Buffer.alloc(320, 0x55),
                    ),
                );
                this.#sendJson(
                    encodeHandJson([
                        ["code", 55],
                        ["timerStamp", download.chunks],
                    ]),
                );
            }
            if (cutAt !== undefined && download.offset >= cutAt) {
                this.#camera.stats.downloadsCut += 1;
                this.#download = undefined;
                this.#camera.emit("downloadCut", download.offset);
                // Everything sent so far arrives, then FIN: the client sees the stream end mid-file.
                this.#writer.afterFlush(() => this.#stream.end());
                return;
            }
        }
        if (download.offset >= bytes.length) {
            download.ended = true;
            this.#sendJson(encodeHandJson([["code", ApCode.sdStreamEnd]]));
            this.#camera.stats.downloadsCompleted += 1;
            this.#camera.emit("downloadCompleted", {
                date: download.recording.date,
                hours: download.recording.hours,
                minute: download.recording.minute,
            });
        }
    }

    #startLive(): void {
        if (this.#liveTimer !== undefined) {
            return;
        }
        this.#lastConfirmAtMs = Date.now();
        const stallAfterMs = this.#options.stallAfterMs ?? 4000;
        this.#liveTimer = setInterval(
            () => {
                if (Date.now() - this.#lastConfirmAtMs > stallAfterMs) {
                    if (!this.#liveStalled) {
                        this.#liveStalled = true;
                        this.#camera.emit("liveStalled");
                    }
                    return; // stalled without 605 (§9.5)
                }
                this.#liveStalled = false;
                const jpeg = this.#camera.jpegSource().render(this.#camera.id, this.#liveCounter);
                this.#liveCounter += 1;
                const datagrams = encodeJpegFragments(jpeg, this.#packageId);
                this.#packageId = (this.#packageId + datagrams.length) >>> 0;
                for (const datagram of datagrams) {
                    this.#send(datagram);
                }
                this.#camera.stats.framesSent += 1;
            },
            Math.round(1000 / (this.#options.fps ?? 5)),
        );
    }

    #stopLive(): void {
        clearInterval(this.#liveTimer);
        this.#liveTimer = undefined;
    }

    #nextId(): number {
        const id = this.#packageId;
        this.#packageId = (this.#packageId + 1) >>> 0;
        return id;
    }

    #sendCommandReply(content: readonly (readonly [string, unknown])[]): void {
        this.#sendJson(`{"code": ${ApCode.command}, "content": ${encodeHandJson(content)}}`);
    }

    #sendJson(json: string): void {
        this.#send(encodeDeviceJsonPacket(json));
    }

    #send(bytes: Buffer): void {
        this.#writer.write(bytes);
    }
}

/**
 * Writes straight through, or (with `maxPieceBytes`) queues bytes and writes them in pieces of
 * 1..maxPieceBytes, one piece per event-loop turn, so messages arrive split and glued.
 */
class SegmentWriter {
    readonly #stream: Duplex;
    readonly #maxPieceBytes: number | undefined;
    readonly #prng: Prng;
    #pending: Buffer = Buffer.alloc(0);
    #dripping = false;
    #afterFlush: (() => void)[] = [];

    constructor(stream: Duplex, maxPieceBytes: number | undefined, prng: Prng) {
        this.#stream = stream;
        this.#maxPieceBytes = maxPieceBytes !== undefined && maxPieceBytes >= 1 ? maxPieceBytes : undefined;
        this.#prng = prng;
    }

    write(bytes: Buffer): void {
        if (this.#stream.destroyed) {
            return;
        }
        if (this.#maxPieceBytes === undefined) {
            this.#stream.write(bytes);
            return;
        }
        this.#pending = this.#pending.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.#pending, bytes]);
        if (!this.#dripping) {
            this.#dripping = true;
            setImmediate(() => this.#drip());
        }
    }

    /** Runs `action` once everything queued so far has been handed to the stream. */
    afterFlush(action: () => void): void {
        if (!this.#dripping) {
            action();
            return;
        }
        this.#afterFlush.push(action);
    }

    #drip(): void {
        if (this.#stream.destroyed) {
            this.#pending = Buffer.alloc(0);
            this.#dripping = false;
            this.#afterFlush = [];
            return;
        }
        const size = 1 + this.#prng.below(this.#maxPieceBytes ?? 1);
        this.#stream.write(this.#pending.subarray(0, size));
        this.#pending = this.#pending.subarray(size);
        if (this.#pending.length > 0) {
            setImmediate(() => this.#drip());
            return;
        }
        this.#dripping = false;
        for (const action of this.#afterFlush.splice(0)) {
            action();
        }
    }
}

function readKey(message: WireMessage): SdFileKey | undefined {
    const {date, hours, minute} = {date: message["date"], hours: message["hours"], minute: message["minute"]};
    if (typeof date !== "number" || typeof hours !== "number" || typeof minute !== "number") {
        return undefined;
    }
    return {date, hours, minute};
}

function catalogueOf(recordings: readonly ApRecording[], date: number): SdCatalogue {
    const byHour = new Map<number, number[]>();
    for (const entry of recordings) {
        if (entry.date === date) {
            byHour.set(entry.hours, [...(byHour.get(entry.hours) ?? []), entry.minute]);
        }
    }
    return {
        date,
        hours: [...byHour.entries()].sort(([a], [b]) => a - b).map(([hour, minutes]) => ({hour, minutes})),
    };
}

function fileName(key: SdFileKey): string {
    return `/sd/${key.date}/${String(key.hours).padStart(2, "0")}/${String(key.minute).padStart(2, "0")}.avi`;
}
