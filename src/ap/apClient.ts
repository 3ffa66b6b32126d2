/**
 * A client of the camera's AP mode (protocol-notes.md §11): one TCP session to 192.168.169.1:6123 speaking
 * the 20-byte header. Every request is one step with a deadline; a step that gets no answer fails with an
 * ApError naming the step, so the CLI can say exactly where the camera went quiet.
 *
 * Replies are matched by code, not by position: anything else the camera sends in between (stale PCM
 * left over from a lost session, §11.2 "newer firmware quirks", unsolicited JSON) is skipped. During a
 * download only cmd 7 payloads reach the output; 605 confirms of the received pkgIds go out every
 * `confirmIntervalMs` (~100 ms, §11.2 "605 confirms every ~100 ms are needed on TCP too"). A cmd 100
 * heartbeat goes out after `heartbeatIdleMs` without any write (§11.1 step 5).
 */
import net from "node:net";
import type {Writable} from "node:stream";
import {
    AP_STATUS_OK,
    ApCode,
    buildApCommand,
    buildApConnect,
    buildRebootContent,
    buildSdDatesRequest,
    buildSdFileRequest,
    buildSdFilesRequest,
    buildSdStatusContent,
    buildSetWifiContent,
    decodeSdCatalogue,
    encodeLiveMotionPacket,
    MAX_SD_CATALOGUE_BYTES,
    parseApCommandReply,
    parseApConnectReply,
    parseSdDatesReply,
    parseSdFileInfoReply,
    parseSdFilesReply,
    parseSdStatusReply,
    type SdCatalogue,
    type SdFileKey,
} from "../protocol/apMessages.js";
import {Cmd, ContentCode} from "../protocol/commands.js";
import {encodeConfirm} from "../protocol/confirm.js";
import {ProtocolError} from "../protocol/errors.js";
import {decodeJson, encodeJsonPacket, type WireMessage} from "../protocol/messages.js";
import {encodePacket, type Packet} from "../protocol/packet.js";
import {TcpFramer} from "../protocol/tcpFramer.js";
import {hexPreview} from "../util/hex.js";
import {type Logger, silentLogger} from "../util/log.js";

/** The camera's address and port in AP mode (protocol-notes.md §2, §11). */
export const AP_DEFAULT_HOST = "192.168.169.1";
export const AP_DEFAULT_PORT = 6123;
/** The app's connect timeout (§11.1 step 1), also used per reply. */
export const AP_DEFAULT_TIMEOUT_MS = 6000;

export type ApStep =
    | "connect"
    | "open"
    | "login"
    | "setWifi"
    | "reboot"
    | "sdStatus"
    | "sdDates"
    | "sdFiles"
    | "fileInfo"
    | "download";

export type ApFailure =
    | "timeout"
    | "closed"
    | "refused"
    | "unreachable"
    | "rejected"
    | "missing"
    | "protocol"
    | "stalled"
    | "incomplete"
    | "aborted"
    | "io";

/** What each step is, for messages: "did not answer <description>". */
export const AP_STEP_DESCRIPTIONS: Readonly<Record<ApStep, string>> = {
    connect: "the TCP connection",
    open: "the session open (cmd 115)",
    login: "the login (code 501)",
    setWifi: "the Wi-Fi settings (502 code 204)",
    reboot: "the restart (502 code 299)",
    sdStatus: "the SD card check (502 code 218)",
    sdDates: "the list of recording days (code 400)",
    sdFiles: "the recordings of a day (code 402 and its XML)",
    fileInfo: "the file info request (code 404)",
    download: "the download (code 406)",
};

/** A failed AP step. `message` is a complete sentence; `bytes` is set for download failures. */
export class ApError extends Error {
    override readonly name = "ApError";
    readonly step: ApStep;
    readonly failure: ApFailure;
    readonly bytes: number | undefined;

    constructor(step: ApStep, failure: ApFailure, message: string, options?: ErrorOptions & {bytes?: number}) {
        super(message, options);
        this.step = step;
        this.failure = failure;
        this.bytes = options?.bytes;
    }
}

export interface ApClientOptions {
    readonly host: string;
    readonly port: number;
    /** Deadline of the TCP connect. */
    readonly connectTimeoutMs: number;
    /** Deadline of each reply, and the longest silence tolerated during a download. */
    readonly replyTimeoutMs: number;
    /** A cmd 100 heartbeat after this long without writing; default 6000 (§11.1 step 5). */
    readonly heartbeatIdleMs?: number;
    /** 605 confirm cadence during a download; default 100 (§9.5, §11.2). */
    readonly confirmIntervalMs?: number;
    /** Wait for an optional confirmation (204, 299, 218) at most this long; default min(replyTimeoutMs, 2000). */
    readonly optionalReplyMs?: number;
    readonly signal?: AbortSignal;
    readonly log?: Logger;
}

/** How a command whose answer is optional went: answered, the camera dropped the link, or silence. */
export type OptionalOutcome = "confirmed" | "dropped" | "unconfirmed";

export interface DownloadOptions {
    /** The size from 405; the download is complete when this many bytes arrived. */
    readonly expectedBytes: number | undefined;
    readonly onProgress?: (bytes: number) => void;
}

export interface DownloadResult {
    readonly bytes: number;
    readonly duplicates: number;
    readonly endMarker: boolean;
}

export interface ApClientStats {
    packets: number;
    badJson: number;
    ignoredPackets: number;
    confirmsSent: number;
    heartbeatsSent: number;
}

interface InboundEvent {
    readonly packet: Packet;
    /** The decoded JSON of a cmd 0 packet. */
    readonly message: WireMessage | undefined;
}

interface Waiter {
    readonly step: ApStep;
    /** A value ends the wait; undefined keeps waiting. May throw ProtocolError (a malformed reply). */
    readonly match: (event: InboundEvent) => unknown;
    readonly resolve: (value: unknown) => void;
    readonly reject: (error: ApError) => void;
    timer: NodeJS.Timeout | undefined;
}

/** Ids remembered to drop retransmitted duplicates. */
const SEEN_IDS_CAP = 4096;
/** An empty 605 at most this often while a download is silent (§9.5 recommendation). */
const EMPTY_CONFIRM_INTERVAL_MS = 500;

export class ApClient {
    readonly stats: ApClientStats = {packets: 0, badJson: 0, ignoredPackets: 0, confirmsSent: 0, heartbeatsSent: 0};
    readonly #socket: net.Socket;
    readonly #options: ApClientOptions;
    readonly #log: Logger;
    readonly #framer = new TcpFramer();
    readonly #waiters = new Set<Waiter>();
    readonly #heartbeat: NodeJS.Timeout;
    readonly #closed: Promise<void>;
    #closeReason: string | undefined;
    #mediaHandler: ((packet: Packet) => void) | undefined;

    private constructor(socket: net.Socket, options: ApClientOptions) {
        this.#socket = socket;
        this.#options = options;
        this.#log = options.log ?? silentLogger;
        this.#heartbeat = setTimeout(() => this.#sendHeartbeat(), options.heartbeatIdleMs ?? 6000);
        this.#closed = new Promise((resolve) => {
            socket.once("close", () => {
                clearTimeout(this.#heartbeat);
                this.#closeReason ??= "the camera closed the connection";
                for (const waiter of [...this.#waiters]) {
                    this.#settle(waiter);
                    waiter.reject(
                        new ApError(
                            waiter.step,
                            "closed",
                            `${this.#closeReason} before answering ${AP_STEP_DESCRIPTIONS[waiter.step]}`,
                        ),
                    );
                }
                resolve();
            });
        });
        socket.on("data", (chunk: Buffer) => this.#handleData(chunk));
        socket.on("error", (error) => {
            this.#closeReason = `the connection failed (${error.message})`;
            this.#log.debug(() => `ap socket error: ${error.message}`);
        });
    }

    /** Connects within `connectTimeoutMs`. Rejects with an ApError of step "connect". */
    static connect(options: ApClientOptions): Promise<ApClient> {
        const {host, port, connectTimeoutMs, signal} = options;
        return new Promise((resolve, reject) => {
            if (signal?.aborted === true) {
                reject(new ApError("connect", "aborted", "aborted"));
                return;
            }
            const socket = net.connect({host, port});
            socket.setNoDelay(true);
            let settled = false;
            const fail = (error: ApError): void => {
                if (!settled) {
                    settled = true;
                    clearTimeout(timer);
                    signal?.removeEventListener("abort", onAbort);
                    socket.destroy();
                    reject(error);
                }
            };
            const onAbort = (): void => fail(new ApError("connect", "aborted", "aborted"));
            const timer = setTimeout(
                () =>
                    fail(
                        new ApError(
                            "connect",
                            "timeout",
                            `no answer from ${formatEndpoint(host, port)} within ${seconds(connectTimeoutMs)} (TCP connect)`,
                        ),
                    ),
                connectTimeoutMs,
            );
            signal?.addEventListener("abort", onAbort, {once: true});
            socket.on("error", (error: NodeJS.ErrnoException) => fail(connectError(host, port, error)));
            socket.once("connect", () => {
                if (settled) {
                    return;
                }
                settled = true;
                clearTimeout(timer);
                signal?.removeEventListener("abort", onAbort);
                socket.removeAllListeners("error");
                resolve(new ApClient(socket, options));
            });
        });
    }

    get isClosed(): boolean {
        return this.#socket.destroyed;
    }

    /** §11.1 steps 2–3: cmd 115, then 501 with `token` and the local clock. Rejects when status ≠ 200. */
    async openSession(token: string, unixTimer: number): Promise<void> {
        await this.#request("open", encodeLiveMotionPacket(), ({packet, message}) =>
            packet.header.command === Cmd.liveMotion || message?.code === Cmd.liveMotion ? true : undefined,
        );
        const {status} = await this.#request(
            "login",
            encodeJsonPacket(buildApConnect(token, unixTimer)),
            ({message}) => (message?.code === ApCode.connect ? parseApConnectReply(message) : undefined),
        );
        if (status !== AP_STATUS_OK) {
            throw new ApError("login", "rejected", `the camera refused the login (code 501, status ${status})`);
        }
    }

    /** 502 content 204 (§11.2). Firmware 202509111709 drops the AP at once, which counts as accepted. */
    async setWifi(ssid: string, password: string): Promise<OptionalOutcome> {
        return await this.#optionalCommand("setWifi", buildSetWifiContent(ssid, password));
    }

    /** 502 content 299. */
    async reboot(): Promise<OptionalOutcome> {
        if (this.isClosed) {
            return "dropped";
        }
        return await this.#optionalCommand("reboot", buildRebootContent());
    }

    /** 502 content 218: `sdDevStatus` (> 0: a card is present), or undefined when the camera does not say. */
    async sdCardStatus(): Promise<number | undefined> {
        try {
            const content = await this.#request(
                "sdStatus",
                encodeJsonPacket(buildApCommand(buildSdStatusContent())),
                (event) => replyContent(event, ContentCode.sdCardStatus),
                this.#optionalReplyMs(),
            );
            const status = content["sdDevStatus"];
            return typeof status === "number" ? status : undefined;
        } catch (error) {
            if (error instanceof ApError && error.failure === "timeout") {
                return undefined;
            }
            throw error;
        }
    }

    /** 400 → 401: the days with recordings (YYYYMMDD numbers). */
    async listDates(): Promise<number[]> {
        const reply = await this.#request("sdDates", encodeJsonPacket(buildSdDatesRequest()), ({message}) =>
            message?.code === ApCode.sdDatesReply ? parseSdDatesReply(message) : undefined,
        );
        if (reply.status !== undefined && reply.status !== AP_STATUS_OK) {
            throw new ApError(
                "sdDates",
                "rejected",
                `the camera cannot list the SD card (${describeSdStatus(reply.status)})`,
            );
        }
        return reply.dates;
    }

    /** 402 → 403, then the cmd 8 XML (possibly in several packets): the recordings of `date`. */
    async listFiles(date: number): Promise<SdCatalogue> {
        const chunks: Buffer[] = [];
        let xmlBytes = 0;
        let expected: number | undefined;
        let replied = false;
        let wake: (() => void) | undefined;
        this.#mediaHandler = (packet) => {
            if (packet.header.command !== Cmd.xml) {
                return;
            }
            xmlBytes += packet.payload.length;
            if (xmlBytes > MAX_SD_CATALOGUE_BYTES) {
                return;
            }
            chunks.push(packet.payload);
            wake?.();
        };
        try {
            const reply = await this.#request("sdFiles", encodeJsonPacket(buildSdFilesRequest(date)), ({message}) =>
                message?.code === ApCode.sdFilesReply ? parseSdFilesReply(message) : undefined,
            );
            replied = true;
            if (reply.status !== undefined && reply.status !== AP_STATUS_OK) {
                throw new ApError(
                    "sdFiles",
                    "rejected",
                    `the camera cannot list ${date} (${describeSdStatus(reply.status)})`,
                );
            }
            expected = reply.fileSize;
            const isComplete = (): boolean => {
                if (expected !== undefined) {
                    return xmlBytes >= expected;
                }
                return Buffer.concat(chunks).includes("</video>");
            };
            if (!isComplete()) {
                await this.#waitUntil("sdFiles", isComplete, (listener) => {
                    wake = listener;
                });
            }
        } finally {
            this.#mediaHandler = undefined;
            this.#log.debug(() => `sd ${date}: replied=${String(replied)} xml ${xmlBytes} of ${String(expected)} B`);
        }
        if (xmlBytes > MAX_SD_CATALOGUE_BYTES) {
            throw new ApError(
                "sdFiles",
                "protocol",
                `the catalogue of ${date} is larger than ${MAX_SD_CATALOGUE_BYTES} bytes`,
            );
        }
        if (xmlBytes === 0) {
            return {date, hours: []};
        }
        try {
            return decodeSdCatalogue(Buffer.concat(chunks));
        } catch (error) {
            if (error instanceof ProtocolError) {
                throw new ApError("sdFiles", "protocol", `the catalogue of ${date} is not readable: ${error.message}`, {
                    cause: error,
                });
            }
            throw error;
        }
    }

    /** 404 → 405: the size of one recording. Rejects with failure "missing" when it does not exist. */
    async fileInfo(key: SdFileKey): Promise<{readonly fileName: string | undefined; readonly fileSize: number}> {
        const reply = await this.#request(
            "fileInfo",
            encodeJsonPacket(buildSdFileRequest(ApCode.sdFileInfo, key)),
            ({message}) => (message?.code === ApCode.sdFileInfoReply ? parseSdFileInfoReply(message) : undefined),
        );
        if ((reply.status !== undefined && reply.status !== AP_STATUS_OK) || reply.fileSize < 0) {
            throw new ApError(
                "fileInfo",
                "missing",
                `the camera has no such recording (${describeSdStatus(reply.status ?? reply.fileSize)})`,
            );
        }
        return {fileName: reply.fileName, fileSize: reply.fileSize};
    }

    /**
     * 406 → 407 and cmd 7 packets until `expectedBytes` arrived or the 411 end marker came. Writes only
     * cmd 7 payloads to `output` (retransmitted pkgIds once), honouring its backpressure. Rejects with an
     * ApError of step "download": "closed" (connection cut), "stalled" (silence for replyTimeoutMs),
     * "incomplete" (411 before all bytes), "rejected" (407 status ≠ 200) or "aborted"; `bytes` says how
     * much was written. Does not end `output`.
     */
    download(key: SdFileKey, output: Writable, options: DownloadOptions): Promise<DownloadResult> {
        const expected = options.expectedBytes;
        const confirmIntervalMs = this.#options.confirmIntervalMs ?? 100;
        const idleMs = this.#options.replyTimeoutMs;
        let received = 0;
        let duplicates = 0;
        let accepted = false;
        let endMarker = false;
        let waitingForDrain = false;
        const seen = new Set<number>();
        const seenOrder: number[] = [];
        let unconfirmed: number[] = [];
        let lastConfirmAtMs = Date.now();
        const sendConfirm = (): void => {
            const nowMs = Date.now();
            if (unconfirmed.length === 0 && nowMs - lastConfirmAtMs < EMPTY_CONFIRM_INTERVAL_MS) {
                return;
            }
            this.#write(encodeConfirm(unconfirmed));
            this.stats.confirmsSent += 1;
            unconfirmed = [];
            lastConfirmAtMs = nowMs;
        };
        return new Promise<DownloadResult>((resolve, reject) => {
            let settled = false;
            const waiters: Waiter[] = [];
            const finish = (error?: ApError): void => {
                if (settled) {
                    return;
                }
                settled = true;
                clearTimeout(idle);
                clearInterval(confirmTimer);
                this.#options.signal?.removeEventListener("abort", onAbort);
                this.#mediaHandler = undefined;
                for (const waiter of waiters) {
                    this.#settle(waiter);
                }
                this.#socket.removeListener("close", onClose);
                output.removeListener("error", onOutputError);
                this.#socket.resume();
                if (error === undefined) {
                    sendConfirm();
                    resolve({bytes: received, duplicates, endMarker});
                    return;
                }
                if (!this.isClosed && error.failure !== "closed") {
                    this.#write(encodeJsonPacket(buildSdFileRequest(ApCode.sdStop, key))); // 408: stop sending
                }
                reject(error);
            };
            const progressText = (): string =>
                expected === undefined ? `${received} bytes` : `${received} of ${expected} bytes`;
            const idle = setTimeout(() => {
                finish(
                    received === 0 && !accepted
                        ? new ApError(
                              "download",
                              "timeout",
                              `the camera did not answer the download request (code 406) within ${seconds(idleMs)}`,
                              {bytes: 0},
                          )
                        : new ApError(
                              "download",
                              "stalled",
                              `the camera stopped sending after ${progressText()} (nothing for ${seconds(idleMs)})`,
                              {bytes: received},
                          ),
                );
            }, idleMs);
            const confirmTimer = setInterval(sendConfirm, confirmIntervalMs);
            const onClose = (): void =>
                finish(
                    new ApError(
                        "download",
                        "closed",
                        `${this.#closeReason ?? "the connection was cut"} after ${progressText()}`,
                        {
                            bytes: received,
                        },
                    ),
                );
            const onAbort = (): void =>
                finish(new ApError("download", "aborted", `aborted after ${progressText()}`, {bytes: received}));
            const onOutputError = (error: Error): void =>
                finish(
                    new ApError("download", "io", `cannot write the file: ${error.message}`, {
                        bytes: received,
                        cause: error,
                    }),
                );
            this.#socket.once("close", onClose);
            this.#options.signal?.addEventListener("abort", onAbort, {once: true});
            output.on("error", onOutputError);
            const isDone = (): boolean => expected !== undefined && received >= expected;
            this.#mediaHandler = (packet) => {
                if (packet.header.command !== Cmd.avi || settled) {
                    return;
                }
                idle.refresh();
                const id = packet.header.packageId;
                unconfirmed.push(id);
                if (id !== 0 && seen.has(id)) {
                    duplicates += 1;
                    return;
                }
                if (id !== 0) {
                    seen.add(id);
                    seenOrder.push(id);
                    if (seenOrder.length > SEEN_IDS_CAP) {
                        seen.delete(seenOrder.shift() ?? 0);
                    }
                }
                received += packet.payload.length;
                if (!output.write(packet.payload) && !waitingForDrain) {
                    waitingForDrain = true;
                    this.#socket.pause();
                    output.once("drain", () => {
                        waitingForDrain = false;
                        idle.refresh();
                        this.#socket.resume();
                    });
                }
                options.onProgress?.(received);
                if (isDone()) {
                    if (received > (expected ?? received)) {
                        this.#log.warn(`received ${received} bytes, more than the announced ${String(expected)}`);
                    }
                    finish();
                }
            };
            const ignore = (): void => undefined;
            const failWith = (error: ApError): void => {
                if (error.failure !== "closed") {
                    finish(error); // a malformed 407/411; a closed socket is reported by onClose
                }
            };
            waiters.push(
                this.#addWaiter(
                    "download",
                    undefined,
                    ({message}) => {
                        if (message?.code !== ApCode.sdDownloadReply) {
                            return undefined;
                        }
                        const {status} = parseSdStatusReply(message, ApCode.sdDownloadReply);
                        accepted = true;
                        if (status !== undefined && status !== AP_STATUS_OK) {
                            finish(
                                new ApError(
                                    "download",
                                    "rejected",
                                    `the camera refused the download (${describeSdStatus(status)})`,
                                    {bytes: received},
                                ),
                            );
                        }
                        return true;
                    },
                    ignore,
                    failWith,
                ),
                this.#addWaiter(
                    "download",
                    undefined,
                    ({message}) => {
                        if (message?.code !== ApCode.sdStreamEnd) {
                            return undefined;
                        }
                        endMarker = true;
                        if (expected === undefined || isDone()) {
                            finish();
                        } else {
                            finish(
                                new ApError(
                                    "download",
                                    "incomplete",
                                    `the camera ended the file after ${progressText()}`,
                                    {bytes: received},
                                ),
                            );
                        }
                        return true;
                    },
                    ignore,
                    failWith,
                ),
            );
            this.#write(encodeJsonPacket(buildSdFileRequest(ApCode.sdDownload, key)));
        });
    }

    /** Ends the session (FIN; destroyed after 1 s if the camera does not close). Resolves when closed. */
    close(): Promise<void> {
        if (!this.#socket.destroyed) {
            this.#closeReason ??= "the session was closed";
            this.#socket.end();
            setTimeout(() => this.#socket.destroy(), 1000).unref();
        }
        return this.#closed;
    }

    /** Closes at once. */
    destroy(): void {
        this.#closeReason ??= "the session was closed";
        this.#socket.destroy();
    }

    // ---- internals ---------------------------------------------------------------------------

    async #optionalCommand(step: ApStep, content: WireMessage): Promise<OptionalOutcome> {
        try {
            const reply = await this.#request(
                step,
                encodeJsonPacket(buildApCommand(content)),
                (event) => replyContent(event, content.code),
                this.#optionalReplyMs(),
            );
            const status = reply["status"];
            if (typeof status === "number" && status !== AP_STATUS_OK) {
                throw new ApError(
                    step,
                    "rejected",
                    `the camera refused ${AP_STEP_DESCRIPTIONS[step]} (status ${status})`,
                );
            }
            return "confirmed";
        } catch (error) {
            if (error instanceof ApError && error.failure === "closed") {
                return "dropped";
            }
            if (error instanceof ApError && error.failure === "timeout") {
                return "unconfirmed";
            }
            throw error;
        }
    }

    #optionalReplyMs(): number {
        return this.#options.optionalReplyMs ?? Math.min(this.#options.replyTimeoutMs, 2000);
    }

    /** Registers the waiter, then writes `bytes`, so an instant answer is never missed. */
    #request<T>(
        step: ApStep,
        bytes: Buffer,
        match: (event: InboundEvent) => T | undefined,
        timeoutMs = this.#options.replyTimeoutMs,
    ): Promise<T> {
        if (this.isClosed) {
            return Promise.reject(
                new ApError(
                    step,
                    "closed",
                    `${this.#closeReason ?? "the connection is closed"} before ${AP_STEP_DESCRIPTIONS[step]}`,
                ),
            );
        }
        const promise = new Promise<T>((resolve, reject) => {
            this.#addWaiter(step, timeoutMs, match, resolve as (value: unknown) => void, reject);
        });
        this.#write(bytes);
        return promise;
    }

    /** Resolves when `isDone()` after a wake-up, or rejects with a timeout of `step`. */
    #waitUntil(step: ApStep, isDone: () => boolean, onWake: (wake: () => void) => void): Promise<void> {
        return new Promise<void>((resolve, reject) => {
            const waiter = this.#addWaiter(
                step,
                this.#options.replyTimeoutMs,
                () => undefined,
                () => resolve(),
                reject,
            );
            onWake(() => {
                if (isDone()) {
                    this.#settle(waiter);
                    resolve();
                }
            });
        });
    }

    #addWaiter(
        step: ApStep,
        timeoutMs: number | undefined,
        match: (event: InboundEvent) => unknown,
        resolve: (value: unknown) => void,
        reject: (error: ApError) => void,
    ): Waiter {
        const waiter: Waiter = {step, match, resolve, reject, timer: undefined};
        if (timeoutMs !== undefined) {
            waiter.timer = setTimeout(() => {
                this.#settle(waiter);
                waiter.reject(
                    new ApError(
                        step,
                        "timeout",
                        `the camera did not answer ${AP_STEP_DESCRIPTIONS[step]} within ${seconds(timeoutMs)}`,
                    ),
                );
            }, timeoutMs);
        }
        this.#waiters.add(waiter);
        return waiter;
    }

    #settle(waiter: Waiter): void {
        clearTimeout(waiter.timer);
        this.#waiters.delete(waiter);
    }

    #handleData(chunk: Buffer): void {
        let packets: Packet[];
        try {
            packets = this.#framer.push(chunk);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#log.warn(`unframeable data from the camera, closing: ${error.message}`, {
                raw: hexPreview(error.raw ?? chunk),
            });
            this.#closeReason = "the camera sent data that cannot be framed";
            this.#socket.destroy();
            return;
        }
        for (const packet of packets) {
            this.#dispatch(packet);
        }
    }

    #dispatch(packet: Packet): void {
        this.stats.packets += 1;
        const command = packet.header.command;
        if (command === Cmd.avi || command === Cmd.xml) {
            this.#mediaHandler?.(packet);
            return;
        }
        let message: WireMessage | undefined;
        if (command === Cmd.json) {
            try {
                message = decodeJson(packet.payload);
            } catch (error) {
                if (!(error instanceof ProtocolError)) {
                    throw error;
                }
                this.stats.badJson += 1;
                this.#log.debug(
                    () => `undecodable JSON from the camera skipped: ${error.message} ${hexPreview(packet.payload)}`,
                );
                return;
            }
        } else if (command !== Cmd.liveMotion) {
            this.stats.ignoredPackets += 1; // heartbeats, stale PCM/JPEG/audio (§11.2 quirks)
            return;
        }
        const event: InboundEvent = {packet, message};
        for (const waiter of [...this.#waiters]) {
            let result: unknown;
            try {
                result = waiter.match(event);
            } catch (error) {
                if (!(error instanceof ProtocolError)) {
                    throw error;
                }
                this.#settle(waiter);
                waiter.reject(
                    new ApError(
                        waiter.step,
                        "protocol",
                        `the camera's answer to ${AP_STEP_DESCRIPTIONS[waiter.step]} is malformed: ${error.message}`,
                        {cause: error},
                    ),
                );
                return;
            }
            if (result !== undefined) {
                this.#settle(waiter);
                waiter.resolve(result);
                return;
            }
        }
        this.#log.debug(
            () =>
                `unsolicited message from the camera: ${message === undefined ? `cmd ${command}` : JSON.stringify(message)}`,
        );
    }

    #write(bytes: Buffer): void {
        if (!this.#socket.destroyed) {
            this.#socket.write(bytes);
            this.#heartbeat.refresh();
        }
    }

    #sendHeartbeat(): void {
        if (!this.#socket.destroyed) {
            this.stats.heartbeatsSent += 1;
            this.#write(encodePacket({command: Cmd.heartbeat}));
        }
    }
}

/** The content of a 502 reply whose content code is `code`, else undefined. */
function replyContent({message}: InboundEvent, code: number): WireMessage | undefined {
    if (message?.code !== ApCode.command) {
        return undefined;
    }
    const content = parseApCommandReply(message);
    return content.code === code ? content : undefined;
}

/** SD status values of protocol-notes.md §6.2. */
export function describeSdStatus(status: number): string {
    switch (status) {
        case -1:
            return "no SD card";
        case -2:
            return "SD card error";
        case -3:
            return "file does not exist";
        case -4:
            return "file damaged";
        default:
            return `status ${status}`;
    }
}

export function formatEndpoint(host: string, port: number): string {
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function seconds(ms: number): string {
    const value = ms / 1000;
    return `${Number.isInteger(value) ? value : value.toFixed(1)} s`;
}

function connectError(host: string, port: number, error: NodeJS.ErrnoException): ApError {
    const where = formatEndpoint(host, port);
    switch (error.code) {
        case "ECONNREFUSED":
            return new ApError("connect", "refused", `${where} refused the connection`, {cause: error});
        case "EHOSTUNREACH":
        case "ENETUNREACH":
        case "EADDRNOTAVAIL":
        case "ENOTFOUND":
            return new ApError("connect", "unreachable", `${where} cannot be reached (${error.code})`, {cause: error});
        case "ETIMEDOUT":
            return new ApError("connect", "timeout", `no answer from ${where} (TCP connect timed out)`, {cause: error});
        default:
            return new ApError("connect", "io", `cannot connect to ${where}: ${error.message}`, {cause: error});
    }
}
