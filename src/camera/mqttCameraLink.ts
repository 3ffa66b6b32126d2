/**
 * The camera-facing MQTT side (protocol-notes.md §7, decisions.md 5 and 7). Either an embedded
 * aedes broker on `mqtt.broker.port`, or (embedded: false) an mqtt.js client on the external broker
 * the cameras use. Emits typed camera events (Status, Info, disconnect) and publishes command JSON
 * to `Naxclow/P2P/Users/Device/sub/<id>`.
 *
 * Embedded broker rules (decisions.md 7):
 * - a client whose client id equals its username and looks like a device id is a camera: any
 *   password is accepted (cameras send one with literal quote characters [CAP]);
 * - a camera may publish only `.../Status` and `.../Info` (about itself) and subscribe only its own
 *   `.../sub/<id>`;
 * - every other client must authenticate against `mqtt.broker.users` when that list is not empty;
 * - will messages are delivered like any publish.
 *
 * Capture (issue 6 item 5): while a capture of a camera runs, its CONNECT (password redacted by the
 * recorder), SUBSCRIBE, PUBLISHes, disconnect and the commands sent to it go to the capture tap.
 */
import {randomBytes, timingSafeEqual} from "node:crypto";
import {createServer, type Server, Socket} from "node:net";
import {Aedes, type AuthenticateError, type Client} from "aedes";
import {connect, type MqttClient} from "mqtt";
import type {CaptureDirection, CaptureTapSlot, MqttCaptureEvent} from "../model/captureTap.js";
import {ProtocolError} from "../protocol/errors.js";
import {
    decodeDeviceJson,
    type InfoReport,
    isDeviceId,
    NaxclowTopic,
    naxclowCommandTopic,
    parseInfo,
    parseStatus,
    type StatusReport,
    type WireMqttCommand,
} from "../protocol/mqttPayloads.js";
import {hexPreview} from "../util/hex.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";

export interface MqttBrokerUser {
    readonly username: string;
    readonly password: string;
}

export interface MqttCameraLinkOptions {
    /** true: run aedes on host:port; false: subscribe on the external broker at `url`. */
    readonly embedded: boolean;
    readonly port: number;
    /** Listen address of the embedded broker. Default all interfaces. */
    readonly host?: string | null | undefined;
    /** External broker URL (embedded: false). */
    readonly url?: string | null | undefined;
    /** Embedded broker: non-camera clients must match one of these when the list is not empty. */
    readonly users?: readonly MqttBrokerUser[] | undefined;
    /** External broker credentials and client id. */
    readonly username?: string | null | undefined;
    readonly password?: string | null | undefined;
    readonly clientId?: string | undefined;
    readonly reconnectPeriodMs?: number | undefined;
}

export type MqttCameraEvent =
    | {readonly type: "status"; readonly id: string; readonly report: StatusReport}
    | {readonly type: "info"; readonly id: string; readonly report: InfoReport}
    /** Embedded broker only: the camera's last MQTT connection closed. */
    | {readonly type: "disconnected"; readonly id: string};

type Listener = (event: MqttCameraEvent) => void;

const LOCAL_USERNAME = "v720-bridge-local";

export class MqttCameraLink {
    readonly #options: MqttCameraLinkOptions;
    readonly #log: Logger;
    readonly #listeners = new Set<Listener>();
    readonly #bad = new RateLimitedCounter();
    /** Credentials the bridge's own client uses on the embedded broker. */
    readonly #localPassword = randomBytes(18).toString("base64url");
    readonly #cameraClients = new WeakSet<Client>();
    readonly #connections = new Map<string, Set<Client>>();
    #broker: Aedes | null = null;
    #server: Server | null = null;
    #client: MqttClient | null = null;
    #port: number | null = null;
    readonly #capture: CaptureTapSlot = {tap: undefined};

    constructor(options: MqttCameraLinkOptions, log: Logger) {
        this.#options = options;
        this.#log = log;
    }

    /** The embedded broker's bound port (after start), else null. */
    get port(): number | null {
        return this.#port;
    }

    /** URL and credentials for a client in this process (the HA bridge) on the embedded broker. */
    get localAccess(): {readonly url: string; readonly username: string; readonly password: string} | null {
        if (this.#port === null) {
            return null;
        }
        const host = this.#options.host;
        const loopback = host === undefined || host === null || host === "" || host === "0.0.0.0" || host === "::";
        const address = loopback ? "127.0.0.1" : host;
        const hostPart = address.includes(":") ? `[${address}]` : address;
        return {url: `mqtt://${hostPart}:${this.#port}`, username: LOCAL_USERNAME, password: this.#localPassword};
    }

    /**
     * Plugs in the capture recorder (issue 6 item 5): the MQTT traffic of a captured camera goes to
     * `tap.mqtt` while `tap.isActive`; undefined unplugs it.
     */
    setCaptureTap(tap: CaptureTapSlot["tap"]): void {
        this.#capture.tap = tap;
    }

    /**
     * The local address the camera's MQTT connection reached (embedded broker only): the address the
     * camera can reach us at, for the wake message's `host`. Undefined when not connected here.
     */
    localAddressOf(id: string): string | undefined {
        for (const client of this.#connections.get(id) ?? []) {
            const conn: unknown = client.conn;
            if (conn instanceof Socket && typeof conn.localAddress === "string") {
                const address = conn.localAddress;
                return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
            }
        }
        return undefined;
    }

    /** Camera ids with a live MQTT connection to the embedded broker. */
    connectedCameraIds(): string[] {
        return [...this.#connections.keys()];
    }

    onEvent(listener: Listener): () => void {
        this.#listeners.add(listener);
        return () => {
            this.#listeners.delete(listener);
        };
    }

    async start(): Promise<void> {
        if (this.#options.embedded) {
            await this.#startEmbedded();
        } else {
            await this.#startExternal();
        }
    }

    async stop(): Promise<void> {
        this.#listeners.clear();
        const client = this.#client;
        this.#client = null;
        if (client !== null) {
            await client.endAsync(!client.connected);
        }
        const broker = this.#broker;
        this.#broker = null;
        if (broker !== null) {
            await new Promise<void>((resolve) => {
                broker.close(() => {
                    resolve();
                });
            });
        }
        const server = this.#server;
        this.#server = null;
        if (server !== null) {
            await new Promise<void>((resolve) => {
                server.close(() => {
                    resolve();
                });
            });
        }
        this.#port = null;
    }

    /** Publishes `command` to the camera's `sub/<id>` (QoS 0, not retained, as the vendor tools do). */
    async sendCommand(id: string, command: WireMqttCommand): Promise<boolean> {
        if (!isDeviceId(id)) {
            return false;
        }
        const topic = naxclowCommandTopic(id);
        const payload = Buffer.from(JSON.stringify(command), "utf8");
        this.#tap(id, "out", {kind: "publish", topic, payload, qos: 0, retain: false});
        const broker = this.#broker;
        if (broker !== null) {
            await new Promise<void>((resolve, reject) => {
                broker.publish({cmd: "publish", topic, payload, qos: 0, retain: false, dup: false}, (error) => {
                    if (error === undefined || error === null) {
                        resolve();
                    } else {
                        reject(error);
                    }
                });
            });
            return true;
        }
        const client = this.#client;
        if (client === null || !client.connected) {
            return false;
        }
        await client.publishAsync(topic, payload, {qos: 0, retain: false});
        return true;
    }

    async #startEmbedded(): Promise<void> {
        const broker = await Aedes.createBroker({
            // aedes defaults to the MQTT 3.1 limit of 23; HA, Node-RED or a long base topic can exceed it.
            maxClientsIdLength: 256,
            preConnect: (_client, packet, done) => {
                this.#tapConnect(packet);
                done(null, true);
            },
            authenticate: (client, username, password, done) => {
                done(...this.#authenticate(client, username, password));
            },
            authorizePublish: (client, packet, done) => {
                done(this.#authorizePublish(client, packet.topic, packet.payload));
            },
            authorizeSubscribe: (client, subscription, done) => {
                done(null, this.#authorizeSubscribe(client, subscription.topic) ? subscription : null);
            },
        });
        broker.on("publish", (packet, client) => {
            if (packet.topic === NaxclowTopic.status || packet.topic === NaxclowTopic.info) {
                const cameraId = client !== null && this.#cameraClients.has(client) ? client.id : null;
                this.#handleDevicePublish(packet.topic, toBuffer(packet.payload), cameraId, {
                    qos: packet.qos,
                    retain: packet.retain,
                });
            }
        });
        broker.on("subscribe", (subscriptions, client) => {
            if (this.#cameraClients.has(client)) {
                this.#tap(client.id, "in", {kind: "subscribe", topics: subscriptions.map((s) => s.topic)});
            }
        });
        broker.on("clientReady", (client) => {
            if (this.#cameraClients.has(client)) {
                let set = this.#connections.get(client.id);
                if (set === undefined) {
                    set = new Set();
                    this.#connections.set(client.id, set);
                }
                set.add(client);
                this.#log.debug(`camera ${client.id} connected over MQTT`);
            }
        });
        broker.on("clientDisconnect", (client) => {
            const set = this.#connections.get(client.id);
            if (set === undefined || !set.delete(client)) {
                return;
            }
            this.#tap(client.id, "in", {kind: "disconnect"});
            if (set.size === 0) {
                this.#connections.delete(client.id);
                this.#log.debug(`camera ${client.id} disconnected from MQTT`);
                this.#emit({type: "disconnected", id: client.id});
            }
        });
        broker.on("clientError", (client, error) => {
            this.#log.debug(`client ${client.id}: ${error.message}`);
        });
        broker.on("connectionError", (client, error) => {
            this.#log.debug(`connection ${client.id ?? "?"}: ${error.message}`);
        });
        const server = createServer((socket) => {
            socket.on("error", (error) => {
                this.#log.debug(`MQTT socket error: ${error.message}`);
            });
            broker.handle(socket);
        });
        this.#broker = broker;
        this.#server = server;
        await new Promise<void>((resolve, reject) => {
            const onError = (error: Error): void => {
                reject(error);
            };
            server.once("error", onError);
            server.listen(this.#options.port, this.#options.host ?? undefined, () => {
                server.off("error", onError);
                resolve();
            });
        });
        server.on("error", (error) => {
            this.#log.error(`MQTT broker server error: ${error.message}`);
        });
        const address = server.address();
        this.#port = typeof address === "object" && address !== null ? address.port : this.#options.port;
        this.#log.info(`camera MQTT broker listening on ${this.#options.host ?? "*"}:${this.#port}`);
    }

    async #startExternal(): Promise<void> {
        const url = this.#options.url;
        if (url === undefined || url === null || url === "") {
            throw new Error("mqtt.broker.url is required when mqtt.broker.embedded is false");
        }
        const client = connect(url, {
            clientId: this.#options.clientId ?? `v720-bridge-cameras-${randomBytes(4).toString("hex")}`,
            protocolVersion: 4,
            clean: true,
            keepalive: 30,
            resubscribe: false,
            reconnectPeriod: this.#options.reconnectPeriodMs ?? 2000,
            ...(typeof this.#options.username === "string" ? {username: this.#options.username} : {}),
            ...(typeof this.#options.password === "string" ? {password: this.#options.password} : {}),
        });
        this.#client = client;
        client.on("error", (error) => {
            this.#log.warn(`camera broker error: ${error.message}`);
        });
        client.on("connect", () => {
            this.#log.info(`subscribed to cameras on ${url}`);
            client
                .subscribeAsync({[NaxclowTopic.status]: {qos: 1}, [NaxclowTopic.info]: {qos: 1}}, {})
                .catch((error: unknown) => {
                    this.#log.warn(
                        `camera topic subscribe failed: ${error instanceof Error ? error.message : String(error)}`,
                    );
                });
        });
        client.on("message", (topic, payload, packet) => {
            this.#handleDevicePublish(topic, payload, null, {qos: packet.qos, retain: packet.retain});
        });
        await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
                this.#log.warn(`camera broker ${url} not reachable yet; retrying in the background`);
                resolve();
            }, 5000);
            client.once("connect", () => {
                clearTimeout(timer);
                resolve();
            });
        });
    }

    #authenticate(
        client: Client,
        username: string | undefined,
        password: Buffer | undefined,
    ): [AuthenticateError | null, boolean | null] {
        if (username !== undefined && username === client.id && isDeviceId(client.id)) {
            // decisions.md 7: a camera; the password is `"<hex>"` with quotes [CAP] and never checked.
            this.#cameraClients.add(client);
            return [null, true];
        }
        if (username === LOCAL_USERNAME && password !== undefined && sameSecret(password, this.#localPassword)) {
            return [null, true];
        }
        const users = this.#options.users ?? [];
        if (users.length === 0) {
            return [null, true];
        }
        if (
            username !== undefined &&
            password !== undefined &&
            users.some((user) => user.username === username && sameSecret(password, user.password))
        ) {
            return [null, true];
        }
        this.#log.warn(`rejected MQTT login of client ${client.id} (user ${username ?? "none"})`);
        const error = Object.assign(new Error("bad username or password"), {returnCode: 4 as const});
        return [error as AuthenticateError, null];
    }

    #authorizePublish(client: Client | null, topic: string, payload: Buffer | string): Error | null {
        if (topic.startsWith("$SYS")) {
            return new Error("$SYS topics are reserved");
        }
        if (client === null || !this.#cameraClients.has(client)) {
            return null;
        }
        if (topic !== NaxclowTopic.status && topic !== NaxclowTopic.info) {
            this.#log.warn(`camera ${client.id} may not publish to ${topic}; disconnecting it`);
            return new Error("cameras may publish only Status and Info");
        }
        const claimed = claimedDeviceId(toBuffer(payload));
        if (claimed !== null && claimed !== client.id) {
            this.#log.warn(`camera ${client.id} published a report for ${claimed}; disconnecting it`);
            return new Error("cameras may report only about themselves");
        }
        return null;
    }

    #authorizeSubscribe(client: Client, topic: string): boolean {
        if (!this.#cameraClients.has(client)) {
            return true;
        }
        if (topic === naxclowCommandTopic(client.id)) {
            return true;
        }
        this.#log.warn(`camera ${client.id} may not subscribe to ${topic}`);
        return false;
    }

    #handleDevicePublish(
        topic: string,
        payload: Buffer,
        clientCameraId: string | null,
        flags: {readonly qos: number; readonly retain: boolean},
    ): void {
        if (clientCameraId !== null) {
            this.#tap(clientCameraId, "in", {kind: "publish", topic, payload, ...flags});
        }
        let event: MqttCameraEvent;
        try {
            if (topic === NaxclowTopic.status) {
                const report = parseStatus(payload);
                const id = clientCameraId ?? report.deviceId;
                if (id === null || !isDeviceId(id)) {
                    this.#drop("status-without-id", "Status without a usable device id", payload);
                    return;
                }
                event = {type: "status", id, report};
            } else {
                const report = parseInfo(payload);
                const id = clientCameraId ?? report.deviceId;
                if (id === null || !isDeviceId(id)) {
                    this.#drop("info-without-id", "Info without a usable device id", payload);
                    return;
                }
                event = {type: "info", id, report};
            }
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#drop(`bad-${topic === NaxclowTopic.status ? "status" : "info"}`, error.message, payload);
            return;
        }
        if (clientCameraId === null) {
            // external broker: attributed by the id inside the payload
            this.#tap(event.id, "in", {kind: "publish", topic, payload, ...flags});
        }
        this.#emit(event);
    }

    #tap(id: string, direction: CaptureDirection, event: MqttCaptureEvent): void {
        const tap = this.#capture.tap;
        if (tap?.isActive === true && tap.isCapturing(id)) {
            tap.mqtt(id, direction, event);
        }
    }

    #tapConnect(packet: {
        readonly clientId: string;
        readonly username?: string | undefined;
        readonly password?: Buffer | undefined;
        readonly keepalive?: number | undefined;
        readonly will?: {readonly topic: string; readonly payload: Buffer | string} | null | undefined;
    }): void {
        const tap = this.#capture.tap;
        if (tap?.isActive !== true || !tap.isCapturing(packet.clientId)) {
            return;
        }
        tap.mqtt(packet.clientId, "in", {
            kind: "connect",
            clientId: packet.clientId,
            username: packet.username,
            password: packet.password,
            keepaliveS: packet.keepalive,
            will:
                packet.will === undefined || packet.will === null
                    ? undefined
                    : {topic: packet.will.topic, payload: packet.will.payload},
        });
    }

    #emit(event: MqttCameraEvent): void {
        for (const listener of this.#listeners) {
            try {
                listener(event);
            } catch (error) {
                this.#log.error(`camera event listener failed (${event.type} ${event.id})`, {error});
            }
        }
    }

    #drop(kind: string, message: string, payload: Buffer): void {
        const suppressed = this.#bad.hit(kind);
        if (suppressed !== undefined) {
            this.#log.warn(`dropped camera MQTT message: ${message}`, {
                raw: hexPreview(payload),
                total: this.#bad.total(kind),
                suppressed,
            });
        }
    }
}

function toBuffer(payload: Buffer | string): Buffer {
    return typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
}

/** The device id a Status (`device`) or Info (`devicesCode`) claims, or null when absent or unreadable. */
function claimedDeviceId(payload: Buffer): string | null {
    try {
        const object = decodeDeviceJson(payload);
        const claimed = object["device"] ?? object["devicesCode"];
        return typeof claimed === "string" ? claimed : null;
    } catch (error) {
        if (error instanceof ProtocolError) {
            return null;
        }
        throw error;
    }
}

function sameSecret(given: Buffer, expected: string): boolean {
    const wanted = Buffer.from(expected, "utf8");
    return given.length === wanted.length && timingSafeEqual(given, wanted);
}
