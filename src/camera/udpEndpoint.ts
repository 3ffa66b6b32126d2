/**
 * The UDP socket under UdpServer, behind one small interface with two implementations:
 *
 * - `DirectUdpEndpoint`: a dgram socket on this thread (`cloud.udp_worker: false`).
 * - `WorkerUdpEndpoint` (udpWorkerEndpoint.ts): the socket lives in a worker thread that hands the
 *   datagrams over in batches (`cloud.udp_worker: true`, the default).
 *
 * Either way every datagram reaches `onDatagram` in order, on this thread, as a Buffer the handler may
 * keep (it is never reused), and `send` keeps the source port the cameras talk to.
 */
import {createSocket, type RemoteInfo, type Socket} from "node:dgram";
import type {Logger} from "../util/log.js";

export interface UdpEndpointHandlers {
    /** One received datagram. Must not throw (a throw is a bug and is not caught here). */
    onDatagram(datagram: Buffer, address: string, port: number): void;
    /** A socket error after bind (e.g. a send to an unreachable host); the socket stays usable. */
    onError(error: Error): void;
    /** Worker only: `count` datagrams were dropped because this thread was too far behind. */
    onDroppedBehind?(count: number): void;
}

export interface UdpEndpoint {
    /** Binds udp4 `host:port`; rejects with the original error (its `code` kept) when the port cannot be had. */
    bind(host: string, port: number): Promise<{address: string; port: number}>;
    /** No callback: errors surface through `onError`. `packet` must not be changed afterwards. */
    send(packet: Buffer, port: number, address: string): void;
    close(): Promise<void>;
}

export interface UdpEndpointOptions {
    /** SO_RCVBUF requested at bind (Linux caps it at net.core.rmem_max and reports twice the grant). */
    readonly receiveBufferBytes: number;
    /** Worker only: distinct source addresses named before the table starts over (default ADDRESS_TABLE_LIMIT). */
    readonly addressTableLimit?: number | undefined;
    /** Worker only: batch bytes handed over but not yet dispatched before the worker drops (default MAX_IN_FLIGHT_BYTES). */
    readonly maxInFlightBytes?: number | undefined;
}

export class DirectUdpEndpoint implements UdpEndpoint {
    readonly #options: UdpEndpointOptions;
    readonly #handlers: UdpEndpointHandlers;
    readonly #log: Logger;
    readonly #onMessage: (datagram: Buffer, remote: RemoteInfo) => void;
    #socket: Socket | undefined;

    constructor(options: UdpEndpointOptions, handlers: UdpEndpointHandlers, log: Logger) {
        this.#options = options;
        this.#handlers = handlers;
        this.#log = log;
        this.#onMessage = (datagram, remote) => handlers.onDatagram(datagram, remote.address, remote.port);
    }

    bind(host: string, port: number): Promise<{address: string; port: number}> {
        return new Promise((resolve, reject) => {
            const socket = createSocket({type: "udp4"});
            const onBindError = (error: Error): void => {
                socket.close();
                reject(error);
            };
            socket.once("error", onBindError);
            socket.bind(port, host, () => {
                socket.off("error", onBindError);
                socket.on("error", (error: Error) => this.#handlers.onError(error));
                socket.on("message", this.#onMessage);
                this.#socket = socket;
                this.#setReceiveBuffer(socket);
                const bound = socket.address();
                resolve({address: bound.address, port: bound.port});
            });
        });
    }

    send(packet: Buffer, port: number, address: string): void {
        this.#socket?.send(packet, port, address);
    }

    close(): Promise<void> {
        const socket = this.#socket;
        this.#socket = undefined;
        if (socket === undefined) {
            return Promise.resolve();
        }
        return new Promise((resolve) => socket.close(() => resolve()));
    }

    #setReceiveBuffer(socket: Socket): void {
        const requested = this.#options.receiveBufferBytes;
        try {
            socket.setRecvBufferSize(requested);
        } catch (error) {
            this.#log.warn(`could not set the UDP receive buffer to ${requested} B`, {error});
        }
        try {
            this.#log.info(`UDP receive buffer: ${socket.getRecvBufferSize()} B`, {requested});
        } catch (error) {
            this.#log.warn("could not read the UDP receive buffer size", {error});
        }
    }
}
