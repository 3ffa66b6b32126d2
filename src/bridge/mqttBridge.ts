/**
 * The Home Assistant side: one mqtt.js client on `mqtt.url` that publishes discovery, availability,
 * state and snapshots, and turns `<base>/<id>/<entity>/set` into camera commands.
 *
 * - LWT `<base>/bridge/state` = offline (retained); `online` after every connect (birth).
 * - On every connect (start and reconnect) and on `homeassistant/status` = online, everything is
 *   published again after a random delay (home-assistant-notes.md §1.5).
 * - Commands are shown optimistically and revert to the last reported value when the camera does
 *   not confirm within `confirmTimeoutMs` (issue 3 item 5).
 * - Only topics under this instance's base topic and discovery topics of its own cameras are ever
 *   written, so several instances can share a broker (issue 3 item 7).
 */
import {connect, type IClientPublishOptions, type MqttClient} from "mqtt";
import type {CameraId} from "../model/camera.js";
import type {CameraCommander, CameraState, CameraStateSource, SnapshotSource} from "../model/cameraState.js";
import {assertNever} from "../util/assertNever.js";
import type {Logger} from "../util/log.js";
import {
    buildBridgeDiscovery,
    buildCameraDiscovery,
    cameraDiscoveryTopics,
    cameraEntity,
    type DiscoveryContext,
    type DiscoveryMessage,
    type DiscoveryMode,
    meetsRequirement,
} from "./discovery.js";
import {parseBridgeCommand, parseCameraCommand} from "./entityCommands.js";
import {buildBridgeInfoPayload, buildStatePayload, type StateValue} from "./statePayload.js";
import {
    availabilitySubscription,
    availabilityTopic,
    BRIDGE_NODE,
    bridgeInfoTopic,
    bridgeStateTopic,
    commandSubscription,
    parseAvailabilityTopic,
    parseCommandTopic,
    snapshotTopic,
    stateTopic,
} from "./topics.js";

export interface MqttBridgeOptions {
    /** Where Home Assistant listens, e.g. `mqtt://127.0.0.1:1883`. */
    readonly url: string;
    readonly username?: string | null | undefined;
    readonly password?: string | null | undefined;
    readonly clientId: string;
    readonly baseTopic: string;
    readonly discoveryPrefix: string;
    readonly haStatusTopic: string;
    readonly discoveryMode: DiscoveryMode;
    readonly version: string;
    readonly supportUrl?: string | undefined;
    /** Periodic snapshot publish; 0 disables it. */
    readonly snapshotIntervalMs: number;
    /** Upper bound of the random delay before a full re-publish. Default 5000. */
    readonly republishJitterMs?: number | undefined;
    /** How long an optimistic state waits for the camera. Default 5000. */
    readonly confirmTimeoutMs?: number | undefined;
    /** Default 2000. */
    readonly reconnectPeriodMs?: number | undefined;
    /** A frame at most this old is published as is; older ones wake the stream. Default 2000. */
    readonly snapshotMaxAgeMs?: number | undefined;
    /** How long start() waits for the first connection before carrying on in the background. Default 5000. */
    readonly connectWaitMs?: number | undefined;
    /** Web UI page per camera for `configuration_url`. */
    readonly configurationUrl?: ((id: CameraId) => string | null) | undefined;
}

export interface MqttBridgeDeps {
    readonly states: CameraStateSource;
    readonly commander: CameraCommander;
    readonly snapshots: SnapshotSource;
    /** [0, 1) source for the republish jitter. */
    readonly random?: () => number;
}

interface Pending {
    readonly value: StateValue;
    readonly timer: NodeJS.Timeout;
}

const QOS1_RETAINED: IClientPublishOptions = {qos: 1, retain: true};

export class MqttBridge {
    readonly #options: MqttBridgeOptions;
    readonly #deps: MqttBridgeDeps;
    readonly #log: Logger;
    readonly #context: DiscoveryContext;
    readonly #confirmTimeoutMs: number;
    readonly #jitterMs: number;
    #client: MqttClient | null = null;
    #stopped = false;
    readonly #unsubscribers: (() => void)[] = [];
    /** topic → last JSON we published (discovery, state, availability, info), for change detection. */
    readonly #lastPublished = new Map<string, string>();
    readonly #pending = new Map<CameraId, Map<string, Pending>>();
    readonly #snapshotInFlight = new Set<CameraId>();
    readonly #lastSnapshotSequence = new Map<CameraId, number>();
    #republishTimer: NodeJS.Timeout | null = null;
    #snapshotTimer: NodeJS.Timeout | null = null;
    #republishCount = 0;

    constructor(options: MqttBridgeOptions, deps: MqttBridgeDeps, log: Logger) {
        this.#options = options;
        this.#deps = deps;
        this.#log = log;
        this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 5000;
        this.#jitterMs = options.republishJitterMs ?? 5000;
        this.#context = {
            baseTopic: options.baseTopic,
            discoveryPrefix: options.discoveryPrefix,
            mode: options.discoveryMode,
            version: options.version,
            supportUrl: options.supportUrl,
        };
    }

    /** How many full re-publishes have completed (diagnostics and tests). */
    get republishCount(): number {
        return this.#republishCount;
    }

    get connected(): boolean {
        return this.#client?.connected ?? false;
    }

    /** Connects and starts publishing. Resolves after the first connection or `connectWaitMs`, whichever is first. */
    async start(): Promise<void> {
        const base = this.#options.baseTopic;
        const client = connect(this.#options.url, {
            clientId: this.#options.clientId,
            protocolVersion: 4,
            clean: true,
            keepalive: 30,
            resubscribe: false,
            reconnectPeriod: this.#options.reconnectPeriodMs ?? 2000,
            connectTimeout: 10_000,
            ...(typeof this.#options.username === "string" ? {username: this.#options.username} : {}),
            ...(typeof this.#options.password === "string" ? {password: this.#options.password} : {}),
            will: {topic: bridgeStateTopic(base), payload: Buffer.from("offline"), qos: 1, retain: true},
        });
        this.#client = client;
        client.on("error", (error) => {
            this.#log.warn(`MQTT error: ${error.message}`);
        });
        client.on("connect", () => {
            this.#handleConnect();
        });
        client.on("close", () => {
            this.#log.debug("MQTT connection closed");
        });
        client.on("message", (topic, payload, packet) => {
            try {
                this.#handleMessage(topic, payload, packet.retain);
            } catch (error) {
                this.#log.error(`handling ${topic} failed`, {error});
            }
        });
        this.#unsubscribers.push(
            this.#deps.states.onChange((state, previous) => {
                this.#handleChange(state, previous);
            }),
        );
        if (this.#options.snapshotIntervalMs > 0) {
            this.#snapshotTimer = setInterval(() => {
                for (const state of this.#deps.states.list()) {
                    // A camera asleep on MQTT is not woken just for a periodic snapshot (battery cameras).
                    if (state.online && state.tcpKnown && (state.tcpOnline || !state.wakesOnDemand)) {
                        this.#snapshot(state.id, "interval");
                    }
                }
            }, this.#options.snapshotIntervalMs);
        }
        await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
                this.#log.warn(`MQTT broker ${this.#options.url} not reachable yet; retrying in the background`);
                resolve();
            }, this.#options.connectWaitMs ?? 5000);
            client.once("connect", () => {
                clearTimeout(timer);
                resolve();
            });
        });
    }

    /** Publishes `offline` on the bridge state topic and disconnects. */
    async stop(): Promise<void> {
        this.#stopped = true;
        for (const unsubscribe of this.#unsubscribers.splice(0)) {
            unsubscribe();
        }
        this.#clearTimers();
        const client = this.#client;
        if (client === null) {
            return;
        }
        if (client.connected) {
            try {
                await withTimeout(
                    client.publishAsync(bridgeStateTopic(this.#options.baseTopic), "offline", QOS1_RETAINED),
                    2000,
                );
            } catch (error) {
                this.#log.debug(`could not publish offline: ${describe(error)}`);
            }
            await client.endAsync();
        } else {
            await client.endAsync(true);
        }
        this.#client = null;
    }

    /** Removes a camera from Home Assistant: empty retained payloads on all its topics. */
    async forget(id: CameraId): Promise<void> {
        this.#clearPending(id);
        this.#lastSnapshotSequence.delete(id);
        const base = this.#options.baseTopic;
        const topics = [
            ...cameraDiscoveryTopics(id, this.#context),
            availabilityTopic(base, id),
            stateTopic(base, id),
            snapshotTopic(base, id),
        ];
        for (const topic of topics) {
            this.#lastPublished.delete(topic);
        }
        const client = this.#client;
        if (client === null) {
            return;
        }
        const clearing = Promise.all(topics.map((topic) => client.publishAsync(topic, "", QOS1_RETAINED)));
        if (!client.connected) {
            // QoS 1 publishes wait in mqtt.js's queue and go out on reconnect; don't block the caller.
            clearing.catch((error: unknown) => {
                this.#log.warn(`clearing ${id} failed: ${describe(error)}`);
            });
            this.#log.info(`discovery of ${id} will be cleared when the broker is back`);
            return;
        }
        await clearing;
        this.#log.info(`cleared discovery of ${id}`);
        this.#publishBridgeInfo(false);
    }

    /** Publishes discovery, availability and state of everything now. */
    async republishAll(): Promise<void> {
        const client = this.#client;
        if (client === null || !client.connected) {
            return;
        }
        const publishes: Promise<unknown>[] = [];
        for (const message of buildBridgeDiscovery(this.#context)) {
            publishes.push(this.#publishJson(message.topic, message.payload, true));
        }
        this.#publishBridgeInfo(true);
        for (const state of this.#deps.states.list()) {
            publishes.push(...this.#publishCamera(state, true));
        }
        await Promise.all(publishes);
        this.#republishCount += 1;
        this.#log.debug(`re-published discovery and state (${this.#republishCount})`);
    }

    #handleConnect(): void {
        const client = this.#client;
        if (client === null) {
            return;
        }
        const base = this.#options.baseTopic;
        this.#log.info(`connected to ${this.#options.url}`);
        this.#lastPublished.clear();
        client.publishAsync(bridgeStateTopic(base), "online", QOS1_RETAINED).catch((error: unknown) => {
            this.#log.warn(`birth publish failed: ${describe(error)}`);
        });
        client
            .subscribeAsync(
                {
                    [commandSubscription(base)]: {qos: 1},
                    [this.#options.haStatusTopic]: {qos: 1},
                    [availabilitySubscription(base)]: {qos: 1},
                },
                {},
            )
            .then(() => {
                this.#scheduleRepublish("connect");
            })
            .catch((error: unknown) => {
                this.#log.warn(`subscribe failed: ${describe(error)}`);
            });
    }

    #handleMessage(topic: string, payload: Buffer, retained: boolean): void {
        const base = this.#options.baseTopic;
        if (topic === this.#options.haStatusTopic) {
            if (payload.toString("utf8") === "online") {
                this.#log.info("Home Assistant is online; re-publishing");
                this.#scheduleRepublish("home assistant online");
            }
            return;
        }
        const command = parseCommandTopic(base, topic);
        if (command !== undefined) {
            if (retained) {
                // A retained command would replay on every reconnect; HA never retains commands by default.
                this.#log.warn(`ignoring retained command on ${topic}`);
                return;
            }
            this.#handleCommand(command.node, command.entity, payload.toString("utf8"), topic);
            return;
        }
        const availabilityOf = parseAvailabilityTopic(base, topic);
        if (availabilityOf !== undefined && payload.toString("utf8") === "online") {
            const state = this.#deps.states.get(availabilityOf);
            if (state === undefined || !state.online) {
                // A stale retained `online` from before a restart or a crash.
                this.#publishText(availabilityTopic(base, availabilityOf), "offline");
            }
        }
    }

    #handleCommand(node: string, entity: string, payload: string, topic: string): void {
        if (node === BRIDGE_NODE) {
            const action = parseBridgeCommand(entity, payload);
            if (action.kind === "republish") {
                this.republishAll().catch((error: unknown) => {
                    this.#log.error("re-publish failed", {error});
                });
            } else {
                this.#log.warn(
                    `rejected command on ${topic}: ${action.kind === "invalid" ? action.reason : action.kind}`,
                );
            }
            return;
        }
        const state = this.#deps.states.get(node);
        if (state === undefined) {
            this.#log.warn(`rejected command on ${topic}: unknown camera`);
            return;
        }
        const spec = cameraEntity(entity);
        if (spec === undefined || spec.hasCommand !== true || !meetsRequirement(state, spec.requires)) {
            this.#log.warn(`rejected command on ${topic}: no such command for this camera`);
            return;
        }
        const action = parseCameraCommand(entity, payload);
        switch (action.kind) {
            case "invalid":
                this.#log.warn(`rejected command on ${topic}: ${action.reason}`, {payload: payload.slice(0, 64)});
                return;
            case "snapshot":
                this.#snapshot(node, "button");
                return;
            case "republish":
                return;
            case "command": {
                if (action.optimistic !== null) {
                    this.#setPending(node, action.optimistic.stateKey, action.optimistic.value);
                }
                this.#log.info(`${node}: ${entity} ← ${payload}`);
                this.#deps.commander
                    .send(node, action.command)
                    .then((result) => {
                        if (!result.ok) {
                            this.#log.warn(`${node}: ${entity} failed: ${result.reason}`);
                            if (action.optimistic !== null) {
                                this.#revert(node, action.optimistic.stateKey);
                            }
                        }
                    })
                    .catch((error: unknown) => {
                        this.#log.error(`${node}: ${entity} failed`, {error});
                        if (action.optimistic !== null) {
                            this.#revert(node, action.optimistic.stateKey);
                        }
                    });
                return;
            }
            default:
                assertNever(action);
        }
    }

    #handleChange(state: CameraState, previous: CameraState | undefined): void {
        if (this.#stopped) {
            return;
        }
        this.#confirmPending(state);
        if (this.#client?.connected === true) {
            for (const publish of this.#publishCamera(state, false)) {
                publish.catch(() => undefined);
            }
            if (previous === undefined || previous.online !== state.online) {
                this.#publishBridgeInfo(false);
            }
        }
        if (state.motion && previous?.motion !== true && state.tcpKnown) {
            this.#snapshot(state.id, "motion");
        }
    }

    /** Discovery (when changed or forced), availability and state of one camera. */
    #publishCamera(state: CameraState, force: boolean): Promise<unknown>[] {
        const base = this.#options.baseTopic;
        const publishes: Promise<unknown>[] = [];
        const messages: DiscoveryMessage[] = buildCameraDiscovery(state, this.#context, {
            configurationUrl: this.#options.configurationUrl?.(state.id) ?? null,
        });
        const current = new Set(messages.map((m) => m.topic));
        for (const message of messages) {
            publishes.push(this.#publishJson(message.topic, message.payload, force));
        }
        // Component mode: an entity that is no longer offered is removed with an empty payload.
        for (const topic of cameraDiscoveryTopics(state.id, this.#context)) {
            if (!current.has(topic) && this.#lastPublished.has(topic)) {
                this.#lastPublished.delete(topic);
                publishes.push(this.#publishRaw(topic, ""));
            }
        }
        publishes.push(this.#publishRaw(availabilityTopic(base, state.id), state.online ? "online" : "offline", force));
        publishes.push(this.#publishJson(stateTopic(base, state.id), this.#statePayload(state), force));
        return publishes;
    }

    #statePayload(state: CameraState): Record<string, unknown> {
        const overrides: Record<string, StateValue> = {};
        for (const [key, pending] of this.#pending.get(state.id) ?? []) {
            overrides[key] = pending.value;
        }
        return buildStatePayload(state, overrides);
    }

    #publishBridgeInfo(force: boolean): void {
        const states = this.#deps.states.list();
        const payload = buildBridgeInfoPayload({
            version: this.#options.version,
            camerasOnline: states.filter((s) => s.online).length,
            camerasKnown: states.length,
        });
        this.#publishJson(bridgeInfoTopic(this.#options.baseTopic), payload, force).catch(() => undefined);
    }

    #setPending(id: CameraId, stateKey: string, value: StateValue): void {
        let byKey = this.#pending.get(id);
        if (byKey === undefined) {
            byKey = new Map();
            this.#pending.set(id, byKey);
        }
        const existing = byKey.get(stateKey);
        if (existing !== undefined) {
            clearTimeout(existing.timer);
        }
        const timer = setTimeout(() => {
            this.#log.info(`${id}: ${stateKey} not confirmed within ${this.#confirmTimeoutMs} ms; reverting`);
            this.#revert(id, stateKey);
        }, this.#confirmTimeoutMs);
        byKey.set(stateKey, {value, timer});
        this.#republishState(id);
    }

    #revert(id: CameraId, stateKey: string): void {
        const byKey = this.#pending.get(id);
        const pending = byKey?.get(stateKey);
        if (byKey === undefined || pending === undefined) {
            return;
        }
        clearTimeout(pending.timer);
        byKey.delete(stateKey);
        this.#republishState(id);
    }

    /** Drops optimistic values the camera has now reported. */
    #confirmPending(state: CameraState): void {
        const byKey = this.#pending.get(state.id);
        if (byKey === undefined || byKey.size === 0) {
            return;
        }
        const reported = buildStatePayload(state);
        for (const [key, pending] of byKey) {
            if (reported[key] === pending.value) {
                clearTimeout(pending.timer);
                byKey.delete(key);
            }
        }
    }

    #clearPending(id: CameraId): void {
        for (const pending of this.#pending.get(id)?.values() ?? []) {
            clearTimeout(pending.timer);
        }
        this.#pending.delete(id);
    }

    #republishState(id: CameraId): void {
        const state = this.#deps.states.get(id);
        if (state === undefined || this.#client?.connected !== true) {
            return;
        }
        this.#publishJson(stateTopic(this.#options.baseTopic, id), this.#statePayload(state), false).catch(
            () => undefined,
        );
    }

    #scheduleRepublish(reason: string): void {
        if (this.#republishTimer !== null || this.#stopped) {
            return;
        }
        const delayMs = Math.floor((this.#deps.random ?? Math.random)() * this.#jitterMs);
        this.#log.debug(`re-publish in ${delayMs} ms (${reason})`);
        this.#republishTimer = setTimeout(() => {
            this.#republishTimer = null;
            this.republishAll().catch((error: unknown) => {
                this.#log.error("re-publish failed", {error});
            });
        }, delayMs);
    }

    #snapshot(id: CameraId, reason: string): void {
        if (this.#snapshotInFlight.has(id) || this.#stopped) {
            return;
        }
        this.#snapshotInFlight.add(id);
        this.#deps.snapshots
            .capture(id, this.#options.snapshotMaxAgeMs ?? 2000)
            .then((frame) => {
                const client = this.#client;
                if (frame === undefined) {
                    this.#log.debug(`${id}: no frame for a ${reason} snapshot`);
                    return;
                }
                if (client === null || this.#lastSnapshotSequence.get(id) === frame.sequence) {
                    return;
                }
                this.#lastSnapshotSequence.set(id, frame.sequence);
                this.#log.debug(`${id}: ${reason} snapshot, ${frame.data.length} B`);
                return client.publishAsync(snapshotTopic(this.#options.baseTopic, id), frame.data, {
                    qos: 0,
                    retain: true,
                });
            })
            .catch((error: unknown) => {
                this.#log.warn(`${id}: ${reason} snapshot failed: ${describe(error)}`);
            })
            .finally(() => {
                this.#snapshotInFlight.delete(id);
            });
    }

    #publishJson(topic: string, payload: Readonly<Record<string, unknown>>, force: boolean): Promise<unknown> {
        return this.#publishRaw(topic, JSON.stringify(payload), force);
    }

    /** Retained QoS 1; skipped when unchanged since the last connect, unless forced. */
    #publishRaw(topic: string, text: string, force = true): Promise<unknown> {
        const client = this.#client;
        if (client === null) {
            return Promise.resolve();
        }
        if (!force && this.#lastPublished.get(topic) === text) {
            return Promise.resolve();
        }
        this.#lastPublished.set(topic, text);
        return client.publishAsync(topic, text, QOS1_RETAINED).catch((error: unknown) => {
            this.#lastPublished.delete(topic);
            this.#log.warn(`publish to ${topic} failed: ${describe(error)}`);
        });
    }

    #publishText(topic: string, text: string): void {
        this.#publishRaw(topic, text).catch(() => undefined);
    }

    #clearTimers(): void {
        if (this.#republishTimer !== null) {
            clearTimeout(this.#republishTimer);
            this.#republishTimer = null;
        }
        if (this.#snapshotTimer !== null) {
            clearInterval(this.#snapshotTimer);
            this.#snapshotTimer = null;
        }
        for (const id of [...this.#pending.keys()]) {
            this.#clearPending(id);
        }
    }
}

function describe(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
        return await Promise.race([
            promise,
            new Promise<never>((_, reject) => {
                timer = setTimeout(() => {
                    reject(new Error(`timed out after ${timeoutMs} ms`));
                }, timeoutMs);
            }),
        ]);
    } finally {
        clearTimeout(timer);
    }
}
