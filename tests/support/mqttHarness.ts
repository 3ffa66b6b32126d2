/**
 * MQTT test support: an mqtt.js client in the role of Home Assistant, `readRetained` (what HA sees
 * after a restart: a FRESH subscriber, house-style §5 item 8), a Mosquitto started per test on an
 * ephemeral port, and a fake CameraDirectory for the TCP side.
 */
import {type ChildProcess, spawn} from "node:child_process";
import {randomBytes} from "node:crypto";
import {existsSync} from "node:fs";
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {createConnection, createServer} from "node:net";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {connect, type IClientOptions, type MqttClient} from "mqtt";
import {vi} from "vitest";
import type {MqttConfigSlice, MqttTimings} from "../../src/app/mqttWiring.js";
import type {CameraDirectory, CameraView, SubscribeResult} from "../../src/model/camera.js";
import type {JpegFrame, MediaConsumer} from "../../src/model/media.js";

export interface ReceivedMessage {
    readonly topic: string;
    readonly payload: Buffer;
    readonly retain: boolean;
}

/** An MQTT client that records everything it receives, with waits instead of sleeps. */
export class TestMqttClient {
    readonly client: MqttClient;
    readonly messages: ReceivedMessage[] = [];
    readonly #waiters = new Set<() => void>();

    private constructor(client: MqttClient) {
        this.client = client;
        client.on("message", (topic, payload, packet) => {
            this.messages.push({topic, payload, retain: packet.retain});
            for (const waiter of this.#waiters) {
                waiter();
            }
        });
        client.on("error", () => undefined);
    }

    static async connect(url: string, options: IClientOptions = {}): Promise<TestMqttClient> {
        const client = connect(url, {
            clientId: `test-${randomBytes(4).toString("hex")}`,
            reconnectPeriod: 200,
            connectTimeout: 5000,
            ...options,
        });
        const wrapper = new TestMqttClient(client);
        await new Promise<void>((resolve, reject) => {
            client.once("connect", () => {
                resolve();
            });
            client.once("error", reject);
        });
        return wrapper;
    }

    async subscribe(...filters: string[]): Promise<void> {
        await this.client.subscribeAsync(filters, {qos: 1});
    }

    async publish(
        topic: string,
        payload: string | Buffer,
        options: {retain?: boolean; qos?: 0 | 1} = {},
    ): Promise<void> {
        await this.client.publishAsync(topic, payload, {qos: options.qos ?? 1, retain: options.retain ?? false});
    }

    /** Index to pass to `next()` so only messages after this point count. */
    mark(): number {
        return this.messages.length;
    }

    /** The first message on `topic` (from index `since`) whose text satisfies `accept`. */
    next(
        topic: string,
        accept: (text: string) => boolean = () => true,
        since = 0,
        timeoutMs = 5000,
    ): Promise<ReceivedMessage> {
        const find = (): ReceivedMessage | undefined =>
            this.messages.slice(since).find((m) => m.topic === topic && accept(m.payload.toString("utf8")));
        const found = find();
        if (found !== undefined) {
            return Promise.resolve(found);
        }
        return new Promise<ReceivedMessage>((resolve, reject) => {
            const waiter = (): void => {
                const match = find();
                if (match !== undefined) {
                    clearTimeout(timer);
                    this.#waiters.delete(waiter);
                    resolve(match);
                }
            };
            const timer = setTimeout(() => {
                this.#waiters.delete(waiter);
                const seen = this.messages
                    .slice(since)
                    .filter((m) => m.topic === topic)
                    .map((m) => m.payload.toString("utf8").slice(0, 200));
                reject(
                    new Error(`no matching message on ${topic} within ${timeoutMs} ms; saw ${JSON.stringify(seen)}`),
                );
            }, timeoutMs);
            this.#waiters.add(waiter);
        });
    }

    /** Parsed JSON of the next matching message. */
    async nextJson(
        topic: string,
        accept: (json: Record<string, unknown>) => boolean = () => true,
        since = 0,
        timeoutMs = 5000,
    ): Promise<Record<string, unknown>> {
        const message = await this.next(
            topic,
            (text) => {
                try {
                    return accept(JSON.parse(text) as Record<string, unknown>);
                } catch {
                    return false;
                }
            },
            since,
            timeoutMs,
        );
        return JSON.parse(message.payload.toString("utf8")) as Record<string, unknown>;
    }

    async end(): Promise<void> {
        await this.client.endAsync(true);
    }
}

/**
 * The retained messages under `filter`, read by a new client: what Home Assistant gets after a
 * restart. A QoS 1 round trip on a private topic after SUBACK fences the retained burst.
 */
export async function readRetained(
    url: string,
    filter: string,
    options: IClientOptions = {},
): Promise<Map<string, Buffer>> {
    const reader = await TestMqttClient.connect(url, {reconnectPeriod: 0, ...options});
    try {
        const fence = `test-fence/${randomBytes(6).toString("hex")}`;
        await reader.subscribe(filter, fence);
        await reader.publish(fence, "fence", {qos: 1});
        await reader.next(fence);
        const retained = new Map<string, Buffer>();
        for (const message of reader.messages) {
            if (message.retain && message.topic !== fence && message.payload.length > 0) {
                retained.set(message.topic, message.payload);
            }
        }
        return retained;
    } finally {
        await reader.end();
    }
}

/** Retained JSON payloads under `filter`, parsed. */
export async function readRetainedJson(
    url: string,
    filter: string,
    options: IClientOptions = {},
): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    for (const [topic, payload] of await readRetained(url, filter, options)) {
        try {
            out.set(topic, JSON.parse(payload.toString("utf8")) as Record<string, unknown>);
        } catch {
            // not JSON (availability text, JPEG): skipped
        }
    }
    return out;
}

// ---- wiring config for tests -------------------------------------------------------------------

/** Short waits so the suite stays fast (decisions.md 18). */
export const FAST_TIMINGS: Partial<MqttTimings> = {
    republishJitterMs: 20,
    confirmTimeoutMs: 600,
    reconnectPeriodMs: 200,
    reconcileIntervalMs: 100,
    connectWaitMs: 3000,
    motionHoldMs: 500,
    snapshotTimeoutMs: 2000,
    snapshotMaxAgeMs: 500,
};

export function mqttConfig(patch: Partial<MqttConfigSlice> = {}): MqttConfigSlice {
    return {
        enabled: true,
        url: null,
        baseTopic: "v720",
        discoveryPrefix: "homeassistant",
        haStatusTopic: "homeassistant/status",
        username: null,
        password: null,
        clientId: null,
        discoveryMode: "device",
        snapshotIntervalS: 0,
        broker: {embedded: true, port: 0, host: "127.0.0.1", url: null, users: []},
        ...patch,
    };
}

// ---- real tools ---------------------------------------------------------------------------------

/** decisions.md 15: a missing tool skips locally but fails under CI=true. */
export function isCi(): boolean {
    return process.env["CI"] === "true";
}

export const MOSQUITTO_PATH = "/usr/sbin/mosquitto";
export const hasMosquitto = (): boolean => existsSync(MOSQUITTO_PATH);

/** A port that was free a moment ago (Mosquitto needs a number up front). */
export async function freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            resolve();
        });
    });
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => {
        server.close(() => {
            resolve();
        });
    });
    return port;
}

export class Mosquitto {
    readonly port: number;
    readonly #dir: string;
    #process: ChildProcess | null = null;
    #output = "";

    private constructor(port: number, dir: string) {
        this.port = port;
        this.#dir = dir;
    }

    /** The broker's recent log (stderr). */
    get output(): string {
        return this.#output;
    }

    get url(): string {
        return `mqtt://127.0.0.1:${this.port}`;
    }

    /** Starts `/usr/sbin/mosquitto -c <tmp conf>` on a free loopback port, anonymous, no persistence. */
    static async start(options: {readonly verbose?: boolean} = {}): Promise<Mosquitto> {
        const dir = await mkdtemp(join(tmpdir(), "v720-mosquitto-"));
        const broker = new Mosquitto(await freePort(), dir);
        const lines = [
            `listener ${broker.port} 127.0.0.1`,
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
        ];
        if (options.verbose === true) {
            lines.push("log_type all");
        }
        await writeFile(join(dir, "mosquitto.conf"), `${lines.join("\n")}\n`);
        await broker.restart();
        return broker;
    }

    /** (Re)starts the process on the same port and waits until it accepts connections. */
    async restart(): Promise<void> {
        if (this.#process !== null) {
            throw new Error("mosquitto is already running");
        }
        const child = spawn(MOSQUITTO_PATH, ["-c", join(this.#dir, "mosquitto.conf")], {
            stdio: ["ignore", "ignore", "pipe"],
        });
        child.stderr?.on("data", (chunk: Buffer) => {
            this.#output = (this.#output + chunk.toString("utf8")).slice(-200_000);
        });
        child.on("error", () => undefined);
        // Never leave a broker behind when the test process ends without afterAll.
        const killOnExit = (): void => {
            child.kill("SIGKILL");
        };
        process.once("exit", killOnExit);
        child.once("exit", () => {
            process.off("exit", killOnExit);
        });
        this.#process = child;
        try {
            await vi.waitFor(
                async () => {
                    if (child.exitCode !== null) {
                        throw new Error(`exited with ${child.exitCode}`);
                    }
                    if (!(await this.#accepts())) {
                        throw new Error("not listening yet");
                    }
                },
                {timeout: 10_000, interval: 50},
            );
        } catch (error) {
            this.#process = null;
            child.kill("SIGKILL");
            throw new Error(`mosquitto did not start: ${String(error)}; ${this.#output}`);
        }
    }

    /** SIGTERM and wait for the exit. */
    async stop(): Promise<void> {
        const child = this.#process;
        this.#process = null;
        if (child === null || child.exitCode !== null) {
            return;
        }
        await new Promise<void>((resolve) => {
            child.once("exit", () => {
                resolve();
            });
            child.kill("SIGTERM");
        });
    }

    async dispose(): Promise<void> {
        await this.stop();
        await rm(this.#dir, {recursive: true, force: true});
    }

    #accepts(): Promise<boolean> {
        return new Promise((resolve) => {
            const socket = createConnection({host: "127.0.0.1", port: this.port});
            socket.once("connect", () => {
                socket.destroy();
                resolve(true);
            });
            socket.once("error", () => {
                resolve(false);
            });
        });
    }
}

// ---- fake TCP side ------------------------------------------------------------------------------

/** A CameraDirectory whose views and frames the test sets; counts subscriptions. */
export class FakeDirectory implements CameraDirectory {
    readonly views = new Map<string, CameraView>();
    readonly consumers = new Map<string, Set<MediaConsumer>>();
    readonly frames = new Map<string, JpegFrame>();
    subscribeCount = 0;

    addCamera(id: string, patch: Partial<CameraView> = {}): void {
        this.views.set(id, {
            id,
            address: "127.0.0.1:40000",
            firmware: "202212011602",
            online: true,
            streamState: "idle",
            fps: 0,
            lastFrameAtMs: null,
            lastSeenAtMs: Date.now(),
            baseInfo: null,
            consumers: 0,
            framesDelivered: 0,
            framesDropped: 0,
            ...patch,
        });
    }

    update(id: string, patch: Partial<CameraView>): void {
        const view = this.views.get(id);
        if (view !== undefined) {
            this.views.set(id, {...view, ...patch});
        }
    }

    list(): CameraView[] {
        return [...this.views.values()];
    }

    get(id: string): CameraView | undefined {
        return this.views.get(id);
    }

    subscribe(id: string, consumer: MediaConsumer): SubscribeResult {
        const view = this.views.get(id);
        if (view === undefined) {
            return {ok: false, reason: "unknown-camera"};
        }
        if (!view.online) {
            return {ok: false, reason: "offline"};
        }
        this.subscribeCount += 1;
        const set = this.consumers.get(id) ?? new Set();
        set.add(consumer);
        this.consumers.set(id, set);
        return {
            ok: true,
            subscription: {
                close: () => {
                    set.delete(consumer);
                },
            },
        };
    }

    latestFrame(id: string): JpegFrame | undefined {
        return this.frames.get(id);
    }

    /** Delivers a frame to every consumer and stores it as the latest. */
    pushFrame(id: string, data: Buffer, sequence: number): JpegFrame {
        const frame: JpegFrame = {
            cameraId: id,
            data,
            sequence,
            receivedAtMs: Date.now(),
            receivedAtHr: performance.now(),
        };
        this.frames.set(id, frame);
        for (const consumer of this.consumers.get(id) ?? []) {
            consumer.onFrame?.(frame);
        }
        return frame;
    }

    liveConsumers(id: string): number {
        return this.consumers.get(id)?.size ?? 0;
    }
}
