/**
 * The camera-facing cloud servers: TCP and UDP on one port number (protocol-notes.md §0.1 step 2),
 * the registry of cameras and the shared session ticker. The app builds one and reads `registry`.
 */

import type {CaptureTap, CaptureTapSlot} from "../model/captureTap.js";
import type {MjpegAssemblerOptions} from "../protocol/mjpegAssembler.js";
import type {Logger} from "../util/log.js";
import {CameraCounters} from "./cameraCounters.js";
import {CameraRegistry} from "./cameraRegistry.js";
import {SessionTicker} from "./sessionTicker.js";
import {TcpServer} from "./tcpServer.js";
import {DEFAULT_UDP_RECEIVE_BUFFER_BYTES, UdpServer} from "./udpServer.js";

export interface CameraServerOptions {
    /** Listen address for TCP and UDP ("0.0.0.0"; "::" listens on TCP dual-stack and UDP 0.0.0.0). */
    readonly host: string;
    /** `cloud.tcp_port`, the same number for TCP and UDP; 0 = any free port (tests). */
    readonly port: number;
    /** The first message must be code 100 within this time. */
    readonly loginTimeoutMs: number;
    /** Nothing from the camera (TCP or UDP) for this long → the session is dead (≈ 3 missed 5 s beats). */
    readonly heartbeatTimeoutMs: number;
    /** No complete frame for this long while someone watches → handshake restarts from code 11. */
    readonly stallTimeoutMs: number;
    /** 301{0} this long after the last consumer left. */
    readonly stopGraceMs: number;
    readonly udpReceiveBufferBytes: number;
    /** The UDP socket in a worker thread: true, false or "auto" (default; udpServer.ts UDP_WORKER_AUTO_AT). */
    readonly udpWorker?: boolean | "auto" | undefined;
    /** Largest TCP payload accepted (default 65535, protocol-notes.md §4). */
    readonly maxTcpPayloadBytes?: number | undefined;
    /** Consumers of a camera that stays offline this long are ended (default 60 s). */
    readonly offlineGraceMs?: number | undefined;
    /** Most cameras remembered, online or offline (default 1000). */
    readonly maxCameras?: number | undefined;
    /** Which device ids may register (`cameras.allow`); default: every id. */
    readonly isAllowed?: ((id: string) => boolean) | undefined;
    /** cliIp/cliNatIp in code 11; default: the local address the camera's TCP connection reached. */
    readonly advertiseHost?: string | undefined;
    readonly assembler?: Partial<MjpegAssemblerOptions> | undefined;
    /** Firmware known from the bootstrap `version` header, shown until the camera's code 4 reply names one. */
    readonly firmwareFor?: ((id: string) => string | undefined) | undefined;
}

export const CAMERA_SERVER_DEFAULTS = {
    host: "0.0.0.0",
    port: 6123,
    loginTimeoutMs: 10_000,
    heartbeatTimeoutMs: 20_000,
    stallTimeoutMs: 5000,
    stopGraceMs: 3000,
    udpReceiveBufferBytes: DEFAULT_UDP_RECEIVE_BUFFER_BYTES,
} as const satisfies CameraServerOptions;

export interface CameraServerAddresses {
    readonly tcpPort: number;
    readonly udpPort: number;
    readonly tcpAddress: string;
    readonly udpAddress: string;
}

/** With port 0, TCP gets a free port first; UDP may find that number taken, so try again. */
const EPHEMERAL_ATTEMPTS = 5;

export class CameraServer {
    readonly registry: CameraRegistry;
    readonly #options: CameraServerOptions;
    readonly #log: Logger;
    readonly #counters = new CameraCounters();
    /** Shared with the TCP connections and the UDP server; setCaptureTap fills it. */
    readonly #captureTap: CaptureTapSlot = {tap: undefined};
    readonly #ticker: SessionTicker;
    readonly #tcp: TcpServer;
    readonly #udp: UdpServer;
    #addresses: CameraServerAddresses | undefined;

    /** `log` should be namespaced for the layer (e.g. `log.child("camera")`); children add tcp, udp and ids. */
    constructor(options: CameraServerOptions, log: Logger, now: () => number = Date.now) {
        this.#options = options;
        this.#log = log;
        this.#ticker = new SessionTicker(log.child("ticker"), undefined, now);
        this.#udp = new UdpServer(
            {...options, captureTap: this.#captureTap},
            {probeTarget: (uid) => this.registry.probeTarget(uid)},
            this.#counters,
            log.child("udp"),
        );
        this.registry = new CameraRegistry(
            options,
            {udp: this.#udp, ticker: this.#ticker, counters: this.#counters},
            log,
            now,
        );
        this.#tcp = new TcpServer(
            {...options, captureTap: this.#captureTap},
            this.registry,
            this.#counters,
            log.child("tcp"),
            now,
        );
    }

    /**
     * Plugs in the capture recorder (issue 6 item 5): TCP messages and UDP datagrams of every camera
     * go to `tap` while `tap.isActive`; undefined unplugs it. Costs one property check per packet otherwise.
     */
    setCaptureTap(tap: CaptureTap | undefined): void {
        this.#captureTap.tap = tap;
    }

    /** Both listening addresses, once started. */
    get addresses(): CameraServerAddresses | undefined {
        return this.#addresses;
    }

    /**
     * Listens on TCP then UDP with the same port number. Rejects with the original listen error
     * (EADDRINUSE, EACCES: `code` kept) after closing whatever was opened.
     */
    async start(): Promise<{tcpPort: number; udpPort: number}> {
        const udpHost = this.#options.host === "::" ? "0.0.0.0" : this.#options.host;
        const attempts = this.#options.port === 0 ? EPHEMERAL_ATTEMPTS : 1;
        for (let attempt = 1; ; attempt++) {
            const tcp = await this.#tcp.listen(this.#options.host, this.#options.port);
            try {
                const udp = await this.#udp.listen(udpHost, tcp.port);
                this.#addresses = {
                    tcpPort: tcp.port,
                    udpPort: udp.port,
                    tcpAddress: tcp.address,
                    udpAddress: udp.address,
                };
                return {tcpPort: tcp.port, udpPort: udp.port};
            } catch (error) {
                await this.#tcp.close();
                if (attempt >= attempts || !(error instanceof Error) || !isAddressInUse(error)) {
                    throw error;
                }
                this.#log.debug(`udp port ${tcp.port} taken; trying another ephemeral port`);
            }
        }
    }

    /** Closes every session (301{0} first when streaming), both sockets and all timers. */
    async stop(): Promise<void> {
        this.registry.stop();
        this.#ticker.stop();
        await Promise.all([this.#tcp.close(), this.#udp.close()]);
        this.#addresses = undefined;
    }
}

function isAddressInUse(error: Error): boolean {
    return (error as NodeJS.ErrnoException).code === "EADDRINUSE";
}
