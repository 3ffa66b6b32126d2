/**
 * The camera UDP socket in a worker thread (`cloud.udp_worker: true`, the default).
 *
 * Why: at 150 streaming cameras the socket delivers ~46 000 datagrams a second. Node gives every
 * datagram its own ArrayBuffer, and V8 frees those buffers one by one in its GC pauses
 * ("sweep_array_buffers": 2–6 ms per pause, several pauses a second, each one stalling every camera
 * and every viewer on the event loop). Here the worker receives the datagrams and copies them, in
 * arrival order, into one batch per turn of its event loop (usually the ≤ 32 datagrams libuv read
 * in one go); the main thread gets one transferred ArrayBuffer per batch and hands views of it to
 * UdpServer. The per-datagram buffers live and die in the worker's small heap, off the main thread.
 * Sends go the other way, batched per turn of the main thread's event loop, so 605 confirms still
 * leave from the port the cameras talk to.
 *
 * Batch layout, worker → main, per datagram: u16 LE address id, u16 LE port, u32 LE length, bytes.
 * Address ids index a table both sides build from the `addresses` list each batch carries for its
 * new sources; past ADDRESS_TABLE_LIMIT entries the worker starts a new table (`resetAddresses`),
 * so a flood of spoofed sources cannot grow memory on either side.
 * Send batch, main → worker, per datagram: u16 LE port, u8 address length, address (latin1),
 * u32 LE length, bytes.
 *
 * Backpressure: dgram sockets cannot pause, so a main thread that falls behind (a flood, a long
 * pause) would otherwise pile up batches in its message queue without limit. Both sides share an
 * in-flight byte count (a SharedArrayBuffer): the worker adds a batch's size before posting it, the
 * main thread subtracts it once dispatched, and above MAX_IN_FLIGHT_BYTES the worker drops the batch
 * instead, as a full kernel socket buffer would, and reports how many datagrams it dropped.
 *
 * The worker's code is a plain CommonJS string run with `eval: true`: it needs only node:dgram and
 * node:worker_threads, and runs the same from dist/, under tsx and under Vitest (a .ts worker file
 * would need a loader in every one of them). It is covered by tests/integration/udpWorkerEndpoint.test.ts.
 */
import {Worker} from "node:worker_threads";
import type {Logger} from "../util/log.js";
import type {UdpEndpoint, UdpEndpointHandlers, UdpEndpointOptions} from "./udpEndpoint.js";

/** Distinct source addresses the worker names before it starts a new table. */
export const ADDRESS_TABLE_LIMIT = 4096;
/** A batch is posted once it holds this many bytes, or at the end of the worker's event-loop turn. */
const BATCH_FLUSH_BYTES = 64 * 1024;
/** Bytes handed to the main thread and not yet dispatched, above which the worker drops batches (≈ 1 s at 150 cameras). */
export const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024;
/** The worker's young generation (V8 default: up to 48 MB; the worker keeps nothing, so small pauses and RSS win). */
const WORKER_YOUNG_GENERATION_MB = 6;
/** Largest UDP payload over IPv4. */
const MAX_DATAGRAM_BYTES = 65_507;
const RECORD_HEADER_BYTES = 8;
/** After an unexpected worker exit, the socket is re-opened after this delay. */
const RESTART_DELAY_MS = 1000;

interface WorkerData {
    /** Start without binding and wait for a {type: "bind"} message (prepare()). */
    readonly deferBind: boolean;
    readonly host: string;
    readonly port: number;
    readonly receiveBufferBytes: number;
    readonly batchFlushBytes: number;
    readonly maxDatagramBytes: number;
    readonly addressTableLimit: number;
    readonly maxInFlightBytes: number;
    /** One Int32: batch bytes posted and not yet dispatched. */
    readonly inFlight: SharedArrayBuffer;
}

type WorkerMessage =
    | {readonly type: "ready"}
    | {
          readonly type: "listening";
          readonly address: string;
          readonly port: number;
          readonly receiveBufferBytes?: number;
          readonly receiveBufferError?: string;
      }
    | {readonly type: "bindError"; readonly message: string; readonly code?: string; readonly syscall?: string}
    | {
          readonly type: "batch";
          readonly buffer: ArrayBuffer;
          readonly count: number;
          readonly addresses?: readonly string[];
          readonly resetAddresses?: boolean;
          /** Datagrams dropped (main thread too far behind) since the previous batch. */
          readonly dropped?: number;
      }
    | {readonly type: "error"; readonly message: string; readonly code?: string};

const WORKER_SOURCE = `"use strict";
const {parentPort, workerData} = require("node:worker_threads");
const dgram = require("node:dgram");
const {host, port, receiveBufferBytes, batchFlushBytes, maxDatagramBytes, addressTableLimit, maxInFlightBytes} = workerData;
const inFlight = new Int32Array(workerData.inFlight);
const scratch = Buffer.allocUnsafe(batchFlushBytes + maxDatagramBytes + 8);
let used = 0;
let count = 0;
let flushScheduled = false;
let addressIds = new Map();
let newAddresses = [];
let resetAddresses = false;
let dropped = 0;
let dropReportScheduled = false;
const socket = dgram.createSocket({type: "udp4"});

function flush() {
    flushScheduled = false;
    if (count === 0) return;
    if (Atomics.load(inFlight, 0) + used > maxInFlightBytes) {
        dropped += count; // the main thread is too far behind: drop, like a full socket buffer
        if (!dropReportScheduled) {
            dropReportScheduled = true; // reported with the next batch, or by itself within 100 ms
            setTimeout(reportDrops, 100);
        }
        if (newAddresses.length === 0 && !resetAddresses) {
            used = 0;
            count = 0;
            return;
        }
        used = 0; // the table changes still have to reach the main thread: post them with no records
        count = 0;
    }
    Atomics.add(inFlight, 0, used);
    const buffer = new ArrayBuffer(used);
    new Uint8Array(buffer).set(scratch.subarray(0, used));
    const message = {type: "batch", buffer, count};
    if (newAddresses.length > 0) message.addresses = newAddresses;
    if (resetAddresses) message.resetAddresses = true;
    if (dropped > 0) message.dropped = dropped;
    dropped = 0;
    newAddresses = [];
    resetAddresses = false;
    used = 0;
    count = 0;
    parentPort.postMessage(message, [buffer]);
}

function reportDrops() {
    dropReportScheduled = false;
    if (dropped > 0) {
        parentPort.postMessage({type: "batch", buffer: new ArrayBuffer(0), count: 0, dropped});
        dropped = 0;
    }
}

function addressId(address) {
    let id = addressIds.get(address);
    if (id === undefined) {
        if (addressIds.size >= addressTableLimit) {
            flush(); // earlier records name ids of the old table
            addressIds = new Map();
            resetAddresses = true;
        }
        id = addressIds.size;
        addressIds.set(address, id);
        newAddresses.push(address);
    }
    return id;
}

socket.on("message", (data, remote) => {
    if (used + 8 + data.length > scratch.length) flush();
    const id = addressId(remote.address);
    scratch.writeUInt16LE(id, used);
    scratch.writeUInt16LE(remote.port, used + 2);
    scratch.writeUInt32LE(data.length, used + 4);
    data.copy(scratch, used + 8);
    used += 8 + data.length;
    count += 1;
    if (used >= batchFlushBytes) {
        flush();
    } else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
    }
});

let listening = false;
socket.on("error", (error) => {
    if (!listening) {
        parentPort.postMessage({type: "bindError", message: error.message, code: error.code, syscall: error.syscall});
        process.exit(0);
    }
    parentPort.postMessage({type: "error", message: error.message, code: error.code});
});

function bindNow(bindHost, bindPort) {
    socket.bind(bindPort, bindHost, onListening);
}

function onListening() {
    listening = true;
    const bound = socket.address();
    const reply = {type: "listening", address: bound.address, port: bound.port};
    try {
        socket.setRecvBufferSize(receiveBufferBytes);
        reply.receiveBufferBytes = socket.getRecvBufferSize();
    } catch (error) {
        reply.receiveBufferError = String(error && error.message);
    }
    parentPort.postMessage(reply);
}

if (workerData.deferBind) {
    parentPort.postMessage({type: "ready"}); // started; binds when told to
} else {
    bindNow(host, port);
}

parentPort.on("message", (message) => {
    if (message.type === "send") {
        const bytes = Buffer.from(message.buffer);
        let offset = 0;
        for (let index = 0; index < message.count; index += 1) {
            const targetPort = bytes.readUInt16LE(offset);
            const addressLength = bytes[offset + 2];
            const address = bytes.toString("latin1", offset + 3, offset + 3 + addressLength);
            offset += 3 + addressLength;
            const length = bytes.readUInt32LE(offset);
            offset += 4;
            socket.send(bytes.subarray(offset, offset + length), targetPort, address);
            offset += length;
        }
    } else if (message.type === "bind") {
        bindNow(message.host, message.port);
    } else if (message.type === "close") {
        flush();
        socket.close(() => process.exit(0));
    }
});
`;

interface Spawned {
    readonly worker: Worker;
    /** Resolves once a deferred worker runs (or failed). */
    readonly ready: Promise<void>;
    readonly listening: Promise<{address: string; port: number}>;
}

export class WorkerUdpEndpoint implements UdpEndpoint {
    readonly #options: UdpEndpointOptions;
    readonly #handlers: UdpEndpointHandlers;
    readonly #log: Logger;
    readonly #flushSends = (): void => this.#flushSendBatch();
    #worker: Worker | undefined;
    #bound: {host: string; port: number} | undefined;
    #closing = false;
    #restartTimer: NodeJS.Timeout | undefined;
    /** Address id → address, as announced by the worker. */
    #addresses: string[] = [];
    #sendBatch: Buffer = Buffer.allocUnsafe(16 * 1024);
    #sendUsed = 0;
    #sendCount = 0;
    #sendFlushQueued = false;
    #restarts = 0;
    /** A worker started by prepare(), waiting for bind(). */
    #prepared: Spawned | undefined;
    readonly #inFlightBuffer = new SharedArrayBuffer(4);
    readonly #inFlight = new Int32Array(this.#inFlightBuffer);

    constructor(options: UdpEndpointOptions, handlers: UdpEndpointHandlers, log: Logger) {
        this.#options = options;
        this.#handlers = handlers;
        this.#log = log;
    }

    /** Times the worker died unexpectedly and was started again. */
    get restarts(): number {
        return this.#restarts;
    }

    /**
     * Starts the worker thread without binding, so that a later bind() costs one message instead of
     * a thread start-up (tens of ms): UdpServer moves a live port with a gap of about a millisecond.
     */
    async prepare(): Promise<void> {
        this.#prepared ??= this.#spawn(undefined);
        await this.#prepared.ready;
    }

    async bind(host: string, port: number): Promise<{address: string; port: number}> {
        this.#closing = false;
        const prepared = this.#prepared;
        this.#prepared = undefined;
        let spawned: Spawned;
        if (prepared === undefined) {
            spawned = this.#spawn({host, port});
        } else {
            spawned = prepared;
            prepared.worker.postMessage({type: "bind", host, port});
        }
        const bound = await spawned.listening;
        this.#bound = {host, port: bound.port};
        return bound;
    }

    send(packet: Buffer, port: number, address: string): void {
        if (this.#worker === undefined) {
            return;
        }
        const needed = 7 + address.length + packet.length;
        if (this.#sendUsed + needed > this.#sendBatch.length) {
            this.#flushSendBatch();
            if (needed > this.#sendBatch.length) {
                this.#sendBatch = Buffer.allocUnsafe(needed);
            }
        }
        const batch = this.#sendBatch;
        let offset = this.#sendUsed;
        batch.writeUInt16LE(port, offset);
        batch[offset + 2] = address.length;
        batch.write(address, offset + 3, "latin1");
        offset += 3 + address.length;
        batch.writeUInt32LE(packet.length, offset);
        packet.copy(batch, offset + 4);
        this.#sendUsed = offset + 4 + packet.length;
        this.#sendCount += 1;
        if (!this.#sendFlushQueued) {
            this.#sendFlushQueued = true;
            // One message per turn of the event loop, however many sends it made: the 605 confirms of
            // every frame completed by the batches handled in this turn travel together.
            setImmediate(this.#flushSends);
        }
    }

    /** Ends the worker as a crash would (tests of the restart); the endpoint re-opens the port after RESTART_DELAY_MS. */
    async killWorkerForTesting(): Promise<void> {
        await this.#worker?.terminate();
    }

    async close(): Promise<void> {
        this.#closing = true;
        clearTimeout(this.#restartTimer);
        const worker = this.#worker ?? this.#prepared?.worker;
        this.#worker = undefined;
        this.#prepared = undefined;
        if (worker === undefined) {
            return;
        }
        this.#flushSendBatch(worker);
        const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
        worker.postMessage({type: "close"});
        const timer = setTimeout(() => void worker.terminate(), 2000);
        await exited;
        clearTimeout(timer);
    }

    /** Starts a worker: bound to `target`, or (undefined) waiting for a bind message. */
    #spawn(target: {host: string; port: number} | undefined): Spawned {
        const workerData: WorkerData = {
            deferBind: target === undefined,
            host: target?.host ?? "",
            port: target?.port ?? 0,
            receiveBufferBytes: this.#options.receiveBufferBytes,
            batchFlushBytes: BATCH_FLUSH_BYTES,
            maxDatagramBytes: MAX_DATAGRAM_BYTES,
            addressTableLimit: this.#options.addressTableLimit ?? ADDRESS_TABLE_LIMIT,
            maxInFlightBytes: this.#options.maxInFlightBytes ?? MAX_IN_FLIGHT_BYTES,
            inFlight: this.#inFlightBuffer,
        };
        const worker = new Worker(WORKER_SOURCE, {
            eval: true,
            workerData,
            stdout: false,
            stderr: false,
            // a small young generation: frequent, short scavenges, and no 30 MB of semi-spaces
            resourceLimits: {maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB},
        });
        let markReady: () => void = () => undefined;
        const ready = new Promise<void>((resolve) => {
            markReady = resolve;
        });
        const listening = new Promise<{address: string; port: number}>((resolve, reject) => {
            let isListening = false;
            const failEarly = (error: Error): void => {
                markReady(); // prepare() must not hang: bind() reports the failure
                reject(error);
            };
            worker.on("message", (message: WorkerMessage) => {
                if (message.type === "batch") {
                    this.#dispatch(message);
                } else if (message.type === "ready") {
                    markReady();
                } else if (message.type === "listening") {
                    isListening = true;
                    this.#worker = worker;
                    this.#addresses = [];
                    Atomics.store(this.#inFlight, 0, 0);
                    this.#logReceiveBuffer(message);
                    resolve({address: message.address, port: message.port});
                } else if (message.type === "bindError") {
                    failEarly(Object.assign(new Error(message.message), pickDefined(message)));
                } else {
                    this.#handlers.onError(Object.assign(new Error(message.message), pickDefined(message)));
                }
            });
            worker.on("error", (error: Error) => {
                if (!isListening) {
                    failEarly(error);
                    return;
                }
                this.#log.error("the UDP worker failed", {error});
            });
            worker.on("exit", (code) => {
                if (!isListening) {
                    failEarly(new Error(`the UDP worker exited with code ${code} before binding`));
                    return;
                }
                if (this.#worker === worker) {
                    this.#worker = undefined;
                }
                if (!this.#closing) {
                    this.#scheduleRestart(code);
                }
            });
        });
        listening.catch(() => undefined); // a prepared worker may be closed unbound; bind() reports errors
        return {worker, ready, listening};
    }

    /** The worker died (a bug or an out-of-memory): the port is opened again, cameras re-probe. */
    #scheduleRestart(code: number): void {
        this.#log.error(`the UDP worker exited (code ${code}): re-opening the UDP port in ${RESTART_DELAY_MS} ms`);
        this.#restartTimer = setTimeout(() => {
            const bound = this.#bound;
            if (this.#closing || bound === undefined) {
                return;
            }
            this.#restarts += 1;
            this.#spawn({host: bound.host, port: bound.port}).listening.catch((error: unknown) => {
                this.#log.error(`re-opening UDP ${bound.host}:${bound.port} failed`, {error});
                this.#scheduleRestart(-1);
            });
        }, RESTART_DELAY_MS);
        this.#restartTimer.unref();
    }

    #dispatch(message: Extract<WorkerMessage, {type: "batch"}>): void {
        if (message.resetAddresses === true) {
            this.#addresses = [];
        }
        if (message.addresses !== undefined) {
            for (const address of message.addresses) {
                this.#addresses.push(address);
            }
        }
        const bytes = Buffer.from(message.buffer);
        Atomics.sub(this.#inFlight, 0, bytes.length); // handed over: the worker may post more
        if (message.dropped !== undefined) {
            this.#handlers.onDroppedBehind?.(message.dropped);
        }
        const addresses = this.#addresses;
        const onDatagram = this.#handlers.onDatagram;
        let offset = 0;
        for (let index = 0; index < message.count; index += 1) {
            const address = addresses[bytes.readUInt16LE(offset)] ?? "";
            const port = bytes.readUInt16LE(offset + 2);
            const length = bytes.readUInt32LE(offset + 4);
            offset += RECORD_HEADER_BYTES;
            onDatagram(bytes.subarray(offset, offset + length), address, port);
            offset += length;
        }
    }

    #flushSendBatch(worker = this.#worker): void {
        this.#sendFlushQueued = false;
        if (this.#sendCount === 0) {
            return;
        }
        const buffer = new ArrayBuffer(this.#sendUsed);
        new Uint8Array(buffer).set(this.#sendBatch.subarray(0, this.#sendUsed));
        const count = this.#sendCount;
        this.#sendUsed = 0;
        this.#sendCount = 0;
        worker?.postMessage({type: "send", buffer, count}, [buffer]);
    }

    #logReceiveBuffer(message: Extract<WorkerMessage, {type: "listening"}>): void {
        const requested = this.#options.receiveBufferBytes;
        if (message.receiveBufferError !== undefined) {
            this.#log.warn(`could not set the UDP receive buffer to ${requested} B: ${message.receiveBufferError}`);
            return;
        }
        this.#log.info(`UDP receive buffer: ${message.receiveBufferBytes ?? "?"} B (socket in a worker thread)`, {
            requested,
        });
    }
}

/** `code` and `syscall` of a serialized error, when present (exactOptionalPropertyTypes-friendly). */
function pickDefined(message: {code?: string; syscall?: string}): {code?: string; syscall?: string} {
    return {
        ...(message.code === undefined ? {} : {code: message.code}),
        ...(message.syscall === undefined ? {} : {syscall: message.syscall}),
    };
}
