/**
 * Wires issue 3 together: the camera MQTT link (camera/), the TCP camera directory (issue 2) and the
 * Home Assistant bridge (bridge/). Owns the per-camera state store that joins MQTT Status/Info with
 * the TCP session and its code 4 base info (online = TCP session OR Status 1, decisions.md 9), the
 * command path (MQTT JSON, or the TCP 301 forward where that is the only way) and snapshots.
 *
 * app.ts calls `startMqtt()` once and `forget()` / `stop()` later.
 */
import {MqttBridge} from "../bridge/mqttBridge.js";
import {type MqttCameraEvent, MqttCameraLink} from "../camera/mqttCameraLink.js";
import type {CameraDirectory, CameraId, CameraView} from "../model/camera.js";
import {
    applyCameraReport,
    type CameraCommand,
    type CameraCommander,
    type CameraReport,
    type CameraState,
    type CameraStateSource,
    type CameraUrls,
    type CommandResult,
    emptyCameraState,
    type SnapshotSource,
    withPresence,
} from "../model/cameraState.js";
import type {JpegFrame, MediaSubscription} from "../model/media.js";
import {ContentCode} from "../protocol/commands.js";
import {
    buildFlipForwardContent,
    buildMqttAction,
    buildMqttSetting,
    CommandValidationError,
    MqttCommandCode,
    type MqttSettingCode,
    parseBaseInfo,
    validateMqttCommand,
    type WireMqttCommand,
} from "../protocol/mqttPayloads.js";
import {assertNever} from "../util/assertNever.js";
import type {Logger} from "../util/log.js";

/** `config.mqtt` as the loader hands it over (decisions.md 1: camelCase). */
export interface MqttConfigSlice {
    readonly enabled: boolean;
    /** Where HA discovery goes; null = the camera broker. */
    readonly url: string | null;
    readonly baseTopic: string;
    readonly discoveryPrefix: string;
    readonly haStatusTopic: string;
    readonly username?: string | null | undefined;
    readonly password?: string | null | undefined;
    readonly clientId?: string | null | undefined;
    readonly discoveryMode: "device" | "component";
    /** 0 disables periodic snapshots. */
    readonly snapshotIntervalS: number;
    readonly broker: {
        readonly embedded: boolean;
        readonly port: number;
        readonly host?: string | null | undefined;
        readonly url?: string | null | undefined;
        readonly users?: readonly {readonly username: string; readonly password: string}[] | undefined;
    };
}

/** `config.cameras`. */
export interface CamerasConfigSlice {
    /** Empty = every camera. */
    readonly allow?: readonly string[] | undefined;
    readonly overrides?:
        | Readonly<
              Record<string, {readonly name?: string | null | undefined; readonly area?: string | null | undefined}>
          >
        | undefined;
}

/** Waits and periods; defaults suit production, tests shorten them (decisions.md 18). */
export interface MqttTimings {
    /** Max random delay before a full re-publish (HA online, reconnect, start). */
    readonly republishJitterMs: number;
    /** An optimistic HA state reverts when the camera has not confirmed it within this time. */
    readonly confirmTimeoutMs: number;
    readonly reconnectPeriodMs: number;
    /** How long the motion binary_sensor stays on after a report. */
    readonly motionHoldMs: number;
    /** How long a snapshot waits for a frame after waking the stream. */
    readonly snapshotTimeoutMs: number;
    /** A frame at most this old is published without waking the stream. */
    readonly snapshotMaxAgeMs: number;
    /** Directory poll period (TCP presence, base info) when events are not pushed. */
    readonly reconcileIntervalMs: number;
    /** `last_seen` changes alone are published at most this often. */
    readonly lastSeenGranularityMs: number;
    readonly connectWaitMs: number;
}

export const DEFAULT_MQTT_TIMINGS: MqttTimings = {
    republishJitterMs: 5000,
    confirmTimeoutMs: 5000,
    reconnectPeriodMs: 2000,
    motionHoldMs: 30_000,
    snapshotTimeoutMs: 10_000,
    snapshotMaxAgeMs: 2000,
    reconcileIntervalMs: 5000,
    lastSeenGranularityMs: 60_000,
    connectWaitMs: 5000,
};

export interface MqttWiringOptions {
    readonly mqtt: MqttConfigSlice;
    readonly cameras?: CamerasConfigSlice | undefined;
    /** The bridge's version (package.json). */
    readonly version: string;
    readonly timings?: Partial<MqttTimings> | undefined;
}

/** TCP-side camera events, pushed by app.ts from the registry (optional: the directory is also polled). */
export type TcpCameraEvent =
    | {readonly type: "online"; readonly id: CameraId}
    | {readonly type: "offline"; readonly id: CameraId}
    | {readonly type: "baseInfo"; readonly id: CameraId; readonly baseInfo: Readonly<Record<string, unknown>>}
    | {readonly type: "motion"; readonly id: CameraId};

export interface MqttWiringDeps {
    readonly directory: CameraDirectory;
    /** Sends a 301 forward with this content over the camera's TCP session; false without one. */
    sendForward(id: CameraId, content: {readonly code: number; readonly [key: string]: unknown}): boolean;
    /** Subscribe to TCP camera events; returns an unsubscribe function. */
    readonly onCameraEvent?: ((listener: (event: TcpCameraEvent) => void) => () => void) | undefined;
    /** Absolute stream URLs for the camera entity's attributes (decisions.md 20). */
    readonly streamUrls?: ((id: CameraId) => CameraUrls | null) | undefined;
    /** Web UI page for `configuration_url`. */
    readonly configurationUrl?: ((id: CameraId) => string | null) | undefined;
    readonly now?: (() => number) | undefined;
}

export interface MqttHandle {
    readonly states: CameraStateSource;
    /** The embedded camera broker's port, or null with an external broker. */
    readonly brokerPort: number | null;
    /** Clears the camera's Home Assistant discovery and state (empty retained payloads). */
    forget(id: CameraId): Promise<void>;
    /** Validates raw command JSON (known codes and ranges only) and publishes it to the camera. */
    sendCommand(id: CameraId, command: unknown): Promise<CommandResult>;
    stop(): Promise<void>;
}

/** Starts the camera broker (or external subscription), the state store and the HA bridge. */
export async function startMqtt(options: MqttWiringOptions, deps: MqttWiringDeps, log: Logger): Promise<MqttHandle> {
    const timings: MqttTimings = {...DEFAULT_MQTT_TIMINGS, ...options.timings};
    const mqtt = options.mqtt;
    const now = deps.now ?? Date.now;
    const store = new CameraStateStore(options.cameras ?? {}, timings, now, deps.streamUrls);
    if (!mqtt.enabled) {
        return {
            states: store,
            brokerPort: null,
            forget: () => Promise.resolve(),
            sendCommand: () => Promise.resolve({ok: false, reason: "MQTT is disabled"}),
            stop: () => Promise.resolve(),
        };
    }
    const bridgeClientId = mqtt.clientId ?? `v720-bridge-${mqtt.baseTopic.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const link = new MqttCameraLink(
        {
            embedded: mqtt.broker.embedded,
            port: mqtt.broker.port,
            host: mqtt.broker.host,
            url: mqtt.broker.url,
            users: mqtt.broker.users,
            username: mqtt.username,
            password: mqtt.password,
            clientId: `${bridgeClientId}-cameras`,
            reconnectPeriodMs: timings.reconnectPeriodMs,
        },
        log.child("camera:mqtt"),
    );
    const subscriptions: (() => void)[] = [];
    subscriptions.push(
        link.onEvent((event) => {
            log.debug(
                () => `${event.id}: MQTT ${event.type}${event.type === "status" ? ` ${event.report.status}` : ""}`,
            );
            store.handleMqttEvent(event);
        }),
    );
    await link.start();

    const reconcile = (): void => {
        store.reconcile(deps.directory.list());
    };
    reconcile();
    const reconcileTimer = setInterval(reconcile, timings.reconcileIntervalMs);
    if (deps.onCameraEvent !== undefined) {
        subscriptions.push(
            deps.onCameraEvent((event) => {
                store.handleTcpEvent(event);
                reconcile();
            }),
        );
    }

    const commander = new Commander(store, link, deps, log.child("bridge:commands"));
    const snapshots = new DirectorySnapshots(deps.directory, timings.snapshotTimeoutMs, now);

    let bridgeUrl = mqtt.url;
    let username = mqtt.username;
    let password = mqtt.password;
    if (bridgeUrl === null) {
        const local = link.localAccess;
        if (local !== null) {
            bridgeUrl = local.url;
            username = local.username;
            password = local.password;
        } else {
            bridgeUrl = mqtt.broker.url ?? null;
        }
    }
    if (bridgeUrl === null || bridgeUrl === "") {
        throw new Error("mqtt.url (or mqtt.broker.url) is required when mqtt.broker.embedded is false");
    }
    const bridge = new MqttBridge(
        {
            url: bridgeUrl,
            username,
            password,
            clientId: bridgeClientId,
            baseTopic: mqtt.baseTopic,
            discoveryPrefix: mqtt.discoveryPrefix,
            haStatusTopic: mqtt.haStatusTopic,
            discoveryMode: mqtt.discoveryMode,
            version: options.version,
            snapshotIntervalMs: mqtt.snapshotIntervalS * 1000,
            republishJitterMs: timings.republishJitterMs,
            confirmTimeoutMs: timings.confirmTimeoutMs,
            reconnectPeriodMs: timings.reconnectPeriodMs,
            snapshotMaxAgeMs: timings.snapshotMaxAgeMs,
            connectWaitMs: timings.connectWaitMs,
            configurationUrl: deps.configurationUrl,
        },
        {states: store, commander, snapshots},
        log.child("bridge:mqtt"),
    );
    await bridge.start();

    return {
        states: store,
        get brokerPort() {
            return link.port;
        },
        async forget(id) {
            commander.release(id);
            store.remove(id);
            await bridge.forget(id);
        },
        sendCommand: (id, command) => commander.sendRaw(id, command),
        async stop() {
            clearInterval(reconcileTimer);
            for (const unsubscribe of subscriptions.splice(0)) {
                unsubscribe();
            }
            commander.releaseAll();
            store.dispose();
            await bridge.stop();
            await link.stop();
        },
    };
}

// ---- state store --------------------------------------------------------------------------------

type Listener = (state: CameraState, previous: CameraState | undefined) => void;

/** Joins every source into one CameraState per allowed camera and tells the bridge what changed. */
export class CameraStateStore implements CameraStateSource {
    readonly #states = new Map<CameraId, CameraState>();
    readonly #listeners = new Set<Listener>();
    readonly #allow: ReadonlySet<string>;
    readonly #overrides: CamerasConfigSlice["overrides"];
    readonly #timings: MqttTimings;
    readonly #now: () => number;
    readonly #streamUrls: ((id: CameraId) => CameraUrls | null) | undefined;
    readonly #motionTimers = new Map<CameraId, NodeJS.Timeout>();
    readonly #baseInfoSeen = new Map<CameraId, Readonly<Record<string, unknown>>>();
    /** Fields we commanded recently: their changes are not motion. */
    readonly #commanded = new Map<CameraId, Map<string, number>>();
    /** Forgotten cameras stay hidden until they come online afresh. */
    readonly #forgotten = new Set<CameraId>();
    readonly #lastNotifiedSeen = new Map<CameraId, number>();

    constructor(
        cameras: CamerasConfigSlice,
        timings: MqttTimings,
        now: () => number,
        streamUrls?: (id: CameraId) => CameraUrls | null,
    ) {
        this.#allow = new Set(cameras.allow ?? []);
        this.#overrides = cameras.overrides;
        this.#timings = timings;
        this.#now = now;
        this.#streamUrls = streamUrls;
    }

    list(): CameraState[] {
        return [...this.#states.values()];
    }

    get(id: CameraId): CameraState | undefined {
        return this.#states.get(id);
    }

    onChange(listener: Listener): () => void {
        this.#listeners.add(listener);
        return () => {
            this.#listeners.delete(listener);
        };
    }

    isAllowed(id: CameraId): boolean {
        return this.#allow.size === 0 || this.#allow.has(id);
    }

    handleMqttEvent(event: MqttCameraEvent): void {
        const nowMs = this.#now();
        switch (event.type) {
            case "status":
                if (event.report.online) {
                    this.#forgotten.delete(event.id);
                }
                this.#update(event.id, (state) => {
                    const next = withPresence(this.#withReport(state, event.report.fields, nowMs), {
                        mqttOnline: event.report.online,
                    });
                    return event.report.online ? {...next, lastSeenAtMs: nowMs} : next;
                });
                return;
            case "info":
                this.#update(event.id, (state) =>
                    withPresence(
                        {...this.#withReport(state, event.report.fields, nowMs), lastSeenAtMs: nowMs},
                        {
                            mqttOnline: true,
                        },
                    ),
                );
                return;
            case "disconnected":
                this.#update(event.id, (state) => withPresence(state, {mqttOnline: false}), false);
                return;
            default:
                assertNever(event);
        }
    }

    handleTcpEvent(event: TcpCameraEvent): void {
        const nowMs = this.#now();
        switch (event.type) {
            case "online":
                this.#forgotten.delete(event.id);
                this.#update(event.id, (state) => ({
                    ...withPresence(state, {tcpOnline: true}),
                    tcpKnown: true,
                    lastSeenAtMs: nowMs,
                }));
                return;
            case "offline":
                this.#update(event.id, (state) => withPresence(state, {tcpOnline: false}), false);
                return;
            case "baseInfo":
                this.#baseInfoSeen.set(event.id, event.baseInfo);
                this.#update(event.id, (state) => ({
                    ...this.#withReport(state, parseBaseInfo(event.baseInfo), nowMs),
                    tcpKnown: true,
                }));
                return;
            case "motion":
                this.#update(event.id, (state) => this.#withMotion(state, nowMs), false);
                return;
            default:
                assertNever(event);
        }
    }

    /** Applies the directory's view of every TCP camera (presence, streaming, base info, firmware). */
    reconcile(views: readonly CameraView[]): void {
        const nowMs = this.#now();
        const seen = new Set<CameraId>();
        for (const view of views) {
            seen.add(view.id);
            const createIfMissing = view.online;
            if (view.online) {
                this.#forgotten.delete(view.id);
            }
            this.#update(
                view.id,
                (state) => {
                    let next = withPresence(state, {tcpOnline: view.online});
                    next = {...next, tcpKnown: true, streaming: view.streamState === "streaming"};
                    if (view.baseInfo !== null && this.#baseInfoSeen.get(view.id) !== view.baseInfo) {
                        this.#baseInfoSeen.set(view.id, view.baseInfo);
                        next = this.#withReport(next, parseBaseInfo(view.baseInfo), nowMs);
                    }
                    if (next.firmware === null && view.firmware !== null) {
                        next = {...next, firmware: view.firmware};
                    }
                    if (view.lastSeenAtMs !== null && (next.lastSeenAtMs ?? 0) < view.lastSeenAtMs) {
                        next = {...next, lastSeenAtMs: view.lastSeenAtMs};
                    }
                    return next;
                },
                createIfMissing,
            );
        }
        for (const state of this.#states.values()) {
            if (!seen.has(state.id) && state.tcpOnline) {
                this.#update(state.id, (s) => ({...withPresence(s, {tcpOnline: false}), streaming: false}), false);
            }
        }
    }

    /** Marks a field as commanded by us now (its next change is not a motion report). */
    noteCommand(id: CameraId, field: keyof CameraReport): void {
        let fields = this.#commanded.get(id);
        if (fields === undefined) {
            fields = new Map();
            this.#commanded.set(id, fields);
        }
        fields.set(field, this.#now());
    }

    /** Applies a value we know the camera took (TCP forwards have no state echo). */
    assume(id: CameraId, report: CameraReport): void {
        this.#update(id, (state) => applyCameraReport(state, report, this.#now()), false);
    }

    setLiveStreamHeld(id: CameraId, held: boolean): void {
        this.#update(id, (state) => ({...state, liveStreamHeld: held}), false);
    }

    remove(id: CameraId): void {
        this.#forgotten.add(id);
        this.#states.delete(id);
        this.#clearMotionTimer(id);
        this.#baseInfoSeen.delete(id);
        this.#commanded.delete(id);
        this.#lastNotifiedSeen.delete(id);
    }

    dispose(): void {
        for (const id of [...this.#motionTimers.keys()]) {
            this.#clearMotionTimer(id);
        }
        this.#listeners.clear();
    }

    /** Report + motion detection: an unsolicited `pirAlert`/`moveAlert` change counts as motion (decisions.md 11). */
    #withReport(state: CameraState, report: CameraReport, nowMs: number): CameraState {
        const next = applyCameraReport(state, report, nowMs);
        const recent = this.#commanded.get(state.id);
        const solicited = (field: string): boolean => {
            const atMs = recent?.get(field);
            return atMs !== undefined && nowMs - atMs <= this.#timings.confirmTimeoutMs * 2;
        };
        const pirChanged = state.pirAlert !== null && next.pirAlert !== state.pirAlert && !solicited("pirAlert");
        const moveChanged =
            state.motionAlert !== null && next.motionAlert !== state.motionAlert && !solicited("motionAlert");
        return pirChanged || moveChanged ? this.#withMotion(next, nowMs) : next;
    }

    #withMotion(state: CameraState, nowMs: number): CameraState {
        this.#clearMotionTimer(state.id);
        const id = state.id;
        this.#motionTimers.set(
            id,
            setTimeout(() => {
                this.#motionTimers.delete(id);
                this.#update(id, (s) => ({...s, motion: false}), false);
            }, this.#timings.motionHoldMs),
        );
        return {...state, motion: true, lastMotionAtMs: nowMs};
    }

    #clearMotionTimer(id: CameraId): void {
        const timer = this.#motionTimers.get(id);
        if (timer !== undefined) {
            clearTimeout(timer);
            this.#motionTimers.delete(id);
        }
    }

    #update(id: CameraId, change: (state: CameraState) => CameraState, createIfMissing = true): void {
        if (!this.isAllowed(id)) {
            return;
        }
        const previous = this.#states.get(id);
        if (previous === undefined && (!createIfMissing || this.#forgotten.has(id))) {
            return;
        }
        const next = change(previous ?? this.#initial(id));
        this.#states.set(id, next);
        if (previous !== undefined && !this.#isNotable(previous, next)) {
            return;
        }
        this.#lastNotifiedSeen.set(id, next.lastSeenAtMs ?? 0);
        for (const listener of this.#listeners) {
            listener(next, previous);
        }
    }

    #initial(id: CameraId): CameraState {
        const override = this.#overrides?.[id];
        return {
            ...emptyCameraState(id),
            name: override?.name ?? null,
            area: override?.area ?? null,
            urls: this.#streamUrls?.(id) ?? null,
        };
    }

    /** Any change except `lastSeenAtMs` alone, which counts once per granularity period. */
    #isNotable(previous: CameraState, next: CameraState): boolean {
        for (const key of Object.keys(next) as (keyof CameraState)[]) {
            if (key !== "lastSeenAtMs" && previous[key] !== next[key]) {
                return true;
            }
        }
        const notified = this.#lastNotifiedSeen.get(next.id) ?? 0;
        return (next.lastSeenAtMs ?? 0) - notified >= this.#timings.lastSeenGranularityMs;
    }
}

// ---- commands -----------------------------------------------------------------------------------

const SWITCH_CODES = {
    irLed: MqttCommandCode.irLed,
    statusLed: MqttCommandCode.instLed,
    sdRecording: MqttCommandCode.sdCardReco,
    motionAlert: MqttCommandCode.moveAlert,
    recordOnMotion: MqttCommandCode.moveMode,
} as const satisfies Record<string, MqttSettingCode>;

const NUMBER_CODES = {
    motionSensitivity: MqttCommandCode.moveGrade,
    pirSensitivity: MqttCommandCode.pirGrade,
} as const satisfies Record<string, MqttSettingCode>;

/** MQTT codes whose TCP content code means the same thing (protocol-notes.md §6.2 vs §7.4). */
const SAME_ON_TCP: ReadonlySet<number> = new Set([
    ContentCode.irLed,
    ContentCode.moveMode,
    ContentCode.moveAlert,
    ContentCode.moveGrade,
    ContentCode.sdCardFormat,
    ContentCode.sdCardReco,
    ContentCode.instLed,
    ContentCode.wifiScan,
    ContentCode.reboot,
]);

class Commander implements CameraCommander {
    readonly #store: CameraStateStore;
    readonly #link: MqttCameraLink;
    readonly #deps: MqttWiringDeps;
    readonly #log: Logger;
    readonly #liveStreams = new Map<CameraId, MediaSubscription>();

    constructor(store: CameraStateStore, link: MqttCameraLink, deps: MqttWiringDeps, log: Logger) {
        this.#store = store;
        this.#link = link;
        this.#deps = deps;
        this.#log = log;
    }

    async send(id: CameraId, command: CameraCommand): Promise<CommandResult> {
        if (this.#store.get(id) === undefined) {
            return {ok: false, reason: "unknown camera"};
        }
        try {
            switch (command.kind) {
                case "switch":
                    this.#store.noteCommand(id, command.setting);
                    return await this.#toCamera(
                        id,
                        buildMqttSetting(SWITCH_CODES[command.setting], command.on ? 1 : 0),
                    );
                case "number":
                    this.#store.noteCommand(id, command.setting);
                    return await this.#toCamera(id, buildMqttSetting(NUMBER_CODES[command.setting], command.value));
                case "flip": {
                    const content = buildFlipForwardContent(command.value);
                    if (!this.#deps.sendForward(id, content)) {
                        return {ok: false, reason: "flip needs a TCP session"};
                    }
                    // [GUESS] the camera sends no state echo for 216; the TCP write is the confirmation.
                    this.#store.assume(id, {flip: command.value});
                    return {ok: true};
                }
                case "liveStream":
                    return this.#liveStream(id, command.on);
                case "reboot":
                    return await this.#toCamera(id, buildMqttAction(MqttCommandCode.reboot));
                case "wifiScan":
                    return await this.#toCamera(id, buildMqttAction(MqttCommandCode.wifiScan));
                case "formatSd":
                    return await this.#toCamera(id, buildMqttAction(MqttCommandCode.sdCardFormat));
                default:
                    return assertNever(command);
            }
        } catch (error) {
            if (error instanceof CommandValidationError) {
                this.#log.warn(`${id}: rejected command: ${error.message}`);
                return {ok: false, reason: error.message};
            }
            throw error;
        }
    }

    async sendRaw(id: CameraId, command: unknown): Promise<CommandResult> {
        let json: WireMqttCommand;
        try {
            json = validateMqttCommand(command);
        } catch (error) {
            if (error instanceof CommandValidationError) {
                this.#log.warn(`${id}: rejected command: ${error.message}`);
                return {ok: false, reason: error.message};
            }
            throw error;
        }
        if (this.#store.get(id) === undefined) {
            return {ok: false, reason: "unknown camera"};
        }
        return await this.#toCamera(id, json);
    }

    release(id: CameraId): void {
        this.#liveStreams.get(id)?.close();
        this.#liveStreams.delete(id);
    }

    releaseAll(): void {
        for (const id of [...this.#liveStreams.keys()]) {
            this.release(id);
        }
    }

    /** MQTT while the camera is on MQTT; else the equivalent TCP forward when one exists. */
    async #toCamera(id: CameraId, json: WireMqttCommand): Promise<CommandResult> {
        const state = this.#store.get(id);
        if (state?.mqttOnline === true) {
            const sent = await this.#link.sendCommand(id, json);
            this.#log.debug(`${id}: MQTT ${JSON.stringify(json)} ${sent ? "sent" : "not sent"}`);
            return sent ? {ok: true} : {ok: false, reason: "camera broker unavailable"};
        }
        if (state?.tcpOnline === true && SAME_ON_TCP.has(json.code)) {
            const sent = this.#deps.sendForward(id, json);
            return sent ? {ok: true} : {ok: false, reason: "TCP forward failed"};
        }
        return {ok: false, reason: "camera offline"};
    }

    #liveStream(id: CameraId, on: boolean): CommandResult {
        const held = this.#liveStreams.get(id);
        if (!on) {
            held?.close();
            this.#liveStreams.delete(id);
            this.#store.setLiveStreamHeld(id, false);
            return {ok: true};
        }
        if (held !== undefined) {
            this.#store.setLiveStreamHeld(id, true);
            return {ok: true};
        }
        const result = this.#deps.directory.subscribe(id, {
            onEnd: () => {
                this.#liveStreams.delete(id);
                this.#store.setLiveStreamHeld(id, false);
            },
        });
        if (!result.ok) {
            return {ok: false, reason: `live stream unavailable: ${result.reason}`};
        }
        this.#liveStreams.set(id, result.subscription);
        this.#store.setLiveStreamHeld(id, true);
        return {ok: true};
    }
}

// ---- snapshots ----------------------------------------------------------------------------------

class DirectorySnapshots implements SnapshotSource {
    readonly #directory: CameraDirectory;
    readonly #timeoutMs: number;
    readonly #now: () => number;

    constructor(directory: CameraDirectory, timeoutMs: number, now: () => number) {
        this.#directory = directory;
        this.#timeoutMs = timeoutMs;
        this.#now = now;
    }

    capture(id: CameraId, maxAgeMs: number): Promise<JpegFrame | undefined> {
        const latest = this.#directory.latestFrame(id);
        if (latest !== undefined && this.#now() - latest.receivedAtMs <= maxAgeMs) {
            return Promise.resolve(latest);
        }
        return new Promise<JpegFrame | undefined>((resolve) => {
            let subscription: MediaSubscription | undefined;
            let settled = false;
            const finish = (frame: JpegFrame | undefined): void => {
                if (settled) {
                    return;
                }
                settled = true;
                clearTimeout(timer);
                subscription?.close();
                resolve(frame);
            };
            const timer = setTimeout(() => {
                finish(undefined);
            }, this.#timeoutMs);
            const result = this.#directory.subscribe(id, {
                onFrame: (frame) => {
                    finish(frame);
                },
                onEnd: () => {
                    finish(undefined);
                },
            });
            if (!result.ok) {
                finish(undefined);
                return;
            }
            subscription = result.subscription;
            if (settled) {
                subscription.close();
            }
        });
    }
}
