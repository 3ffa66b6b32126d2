/** The TCP control listener (protocol-notes.md §8): one CameraConnection per accepted socket. */
import {type AddressInfo, createServer, type Server, type Socket} from "node:net";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {CameraConnection, type CameraConnectionOptions, type ConnectionHandler} from "./cameraConnection.js";
import type {CameraCounters} from "./cameraCounters.js";

export class TcpServer {
    readonly #options: CameraConnectionOptions;
    readonly #handler: ConnectionHandler;
    readonly #counters: CameraCounters;
    readonly #log: Logger;
    readonly #now: () => number;
    /** Shared by every connection: one warning line per kind per interval, whatever the number of peers. */
    readonly #limiter: RateLimitedCounter;
    readonly #connections = new Set<CameraConnection>();
    #server: Server | undefined;

    constructor(
        options: CameraConnectionOptions,
        handler: ConnectionHandler,
        counters: CameraCounters,
        log: Logger,
        now: () => number = Date.now,
    ) {
        this.#options = options;
        this.#handler = handler;
        this.#counters = counters;
        this.#log = log;
        this.#now = now;
        this.#limiter = new RateLimitedCounter(10_000, now);
    }

    get connectionCount(): number {
        return this.#connections.size;
    }

    /** Listens on `host:port` (0 = any free port). Rejects with the original error (code kept). */
    listen(host: string, port: number): Promise<AddressInfo> {
        return new Promise((resolve, reject) => {
            const server = createServer((socket) => this.#handleConnection(socket));
            const onListenError = (error: Error): void => {
                server.close();
                reject(error);
            };
            server.once("error", onListenError);
            server.listen(port, host, () => {
                server.off("error", onListenError);
                server.on("error", (error: Error) => this.#log.error(`TCP server error: ${error.message}`, {error}));
                this.#server = server;
                const address = server.address() as AddressInfo;
                this.#log.info(`listening on tcp ${address.address}:${address.port}`);
                resolve(address);
            });
        });
    }

    /** Destroys every connection and closes the listener. */
    close(): Promise<void> {
        for (const connection of this.#connections) {
            connection.close("server stopping");
        }
        this.#connections.clear();
        const server = this.#server;
        this.#server = undefined;
        if (server === undefined) {
            return Promise.resolve();
        }
        return new Promise((resolve) => {
            server.close(() => resolve());
        });
    }

    #handleConnection(socket: Socket): void {
        this.#counters.tcpConnections += 1;
        const connection = new CameraConnection(
            socket,
            this.#handler,
            this.#options,
            this.#counters,
            this.#limiter,
            this.#log,
            this.#now,
        );
        if (connection.isClosed) {
            return;
        }
        this.#connections.add(connection);
        socket.once("close", () => this.#connections.delete(connection));
        this.#log.debug(() => `connection from ${connection.remoteAddress}`);
    }
}
