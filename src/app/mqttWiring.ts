/**
 * Wires issue 3 together: the camera MQTT link (camera/), the TCP camera directory (issue 2) and the
 * Home Assistant bridge (bridge/). Owns the per-camera state store that joins MQTT Status/Info with
 * the TCP session and its code 4 base info (online = TCP session OR Status 1, decisions.md 9), the
 * command path (MQTT JSON, or the TCP 301 forward where that is the only way) and snapshots.
 *
 * Wake for live (issue 6 item 3): `directory` is the registry behind a WakeOnDemandDirectory that
 * shows MQTT-first cameras idling on MQTT as "asleep, wakes on demand" and publishes the 240 wake
 * message (template from `cameras.wake`, per camera from `cameras.overrides.<id>.wake`) when a viewer
 * subscribes to one without a TCP session. Every viewer (HTTP, RTSP/HLS, the HA live-stream switch and
 * snapshots) should subscribe through `directory`.
 *
 * app.ts calls `startMqtt()` once and `forget()` / `stop()` later.
 */
import {randomBytes} from "node:crypto";
import {MqttBridge} from "../bridge/mqttBridge.js";
import {type MqttCameraEvent, MqttCameraLink} from "../camera/mqttCameraLink.js";
import {describeErrStatus, WakeOnDemandDirectory, type WakePresence, type WakeRequest} from "../camera/wakeOnDemand.js";
import {CLOUD_DOMAIN} from "../http/bootstrapRoutes.js";
import type {
    CameraDirectory,
    CameraFamily,
    CameraId,
    CameraView,
    CameraWaker,
    WakeRequestResult,
} from "../model/camera.js";
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
import type {CaptureTap} from "../model/captureTap.js";
import type {JpegFrame, MediaSubscription} from "../model/media.js";
import {ContentCode} from "../protocol/commands.js";
import {deviceFamilyOf, deviceModelOf} from "../protocol/deviceFamily.js";
import {
    buildFlipForwardContent,
    buildMqttAction,
    buildMqttSetting,
    buildWakeCommand,
    CommandValidationError,
    DEFAULT_WAKE_TEMPLATE,
    isWakeTemplate,
    MqttCommandCode,
    type MqttSettingCode,
    parseBaseInfo,
    validateMqttCommand,
    WAKE_TEMPLATES,
    type WakeParams,
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

/** `cameras.wake` (issue 6 item 3). */
export interface WakeConfigSlice {
    /** "candidate1" … "candidate5" or "custom" (protocol/mqttPayloads.ts WAKE_TEMPLATES). */
    readonly template: string;
    /** JSON text with `{{placeholders}}` for the "custom" template. */
    readonly customPayload: string | null;
    /** How long a viewer waits for the camera's TCP registration after the wake. */
    readonly timeoutMs: number;
    /** At most one wake per camera this often. */
    readonly minIntervalMs: number;
}

export const DEFAULT_WAKE_CONFIG: WakeConfigSlice = {
    template: DEFAULT_WAKE_TEMPLATE,
    customPayload: null,
    timeoutMs: 15_000,
    minIntervalMs: 5000,
};

/** `cameras.overrides.<id>`. */
export interface CameraOverrideSlice {
    readonly name?: string | null | undefined;
    readonly area?: string | null | undefined;
    /** Overrides the family by id prefix: "mqtt-first" cameras are woken on demand. */
    readonly family?: CameraFamily | null | undefined;
    readonly wake?:
        | {readonly template?: string | null | undefined; readonly customPayload?: string | null | undefined}
        | undefined;
}

/** `config.cameras`. */
export interface CamerasConfigSlice {
    /** Empty = every camera. */
    readonly allow?: readonly string[] | undefined;
    readonly overrides?: Readonly<Record<string, CameraOverrideSlice>> | undefined;
    readonly wake?: WakeConfigSlice | undefined;
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
    /** Where a woken camera should open TCP (issue 6 item 3); without it no wake is sent. */
    readonly wakeTarget?: WakeTarget | undefined;
    readonly now?: (() => number) | undefined;
}

/** The server side of the wake message. */
export interface WakeTarget {
    /** The camera TCP port (cloud.tcp_port as bound). */
    readonly tcpPort: number;
    /** advertise_host; wins over the address the camera's MQTT connection reached. */
    readonly advertiseHost?: string | undefined;
    /** Used when neither advertise_host nor the camera's MQTT connection names an address. */
    readonly fallbackHost: string;
    /** The camera's pwd (it returns it as `token` in code 100). */
    passwordFor(id: CameraId): string;
}

export interface MqttHandle {
    readonly states: CameraStateSource;
    /** The embedded camera broker's port, or null with an external broker. */
    readonly brokerPort: number | null;
    /** Clears the camera's Home Assistant discovery and state (empty retained payloads). */
    forget(id: CameraId): Promise<void>;
    /** Validates raw command JSON (known codes and ranges only) and publishes it to the camera. */
    sendCommand(id: CameraId, command: unknown): Promise<CommandResult>;
    /** The domain command path of the HA bridge; the web UI's entity commands use it too (issue 5 item 2). */
    readonly commander: CameraCommander;
    /** The Home Assistant side's MQTT client is connected (/readyz, /metrics). */
    readonly isBridgeConnected: boolean;
    /**
     * The camera directory every viewer should subscribe through: MQTT-first cameras asleep on MQTT are
     * listed and woken on demand (issue 6 item 3). The plain directory when MQTT is disabled.
     */
    readonly directory: CameraDirectory;
    /** Manual wakes (POST /api/cameras/:id/wake); null when MQTT is disabled. */
    readonly waker: CameraWaker | null;
    /**
     * Plugs in the capture recorder (issue 6 item 5): the camera MQTT traffic goes to `tap`, and every
     * firmware an Info names goes to `noteFirmware`. undefined unplugs both.
     */
    setCapture(capture: MqttCaptureHooks | undefined): void;
    stop(): Promise<void>;
}

export interface MqttCaptureHooks {
    readonly tap: CaptureTap;
    noteFirmware(id: CameraId, version: string): void;
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
            commander: {send: () => Promise.resolve({ok: false, reason: "MQTT is disabled"})},
            isBridgeConnected: false,
            directory: deps.directory,
            waker: null,
            setCapture: () => undefined,
            stop: () => Promise.resolve(),
        };
    }
    const wakeConfig = options.cameras?.wake ?? DEFAULT_WAKE_CONFIG;
    checkWakeConfig(options.cameras ?? {}, wakeConfig);
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
    const wakeLog = log.child("camera:wake");
    const sendWake = async (id: CameraId, request: WakeRequest): Promise<WakeRequestResult> => {
        const override = options.cameras?.overrides?.[id]?.wake;
        const template = request.template ?? override?.template ?? wakeConfig.template;
        if (!isWakeTemplate(template)) {
            return {
                ok: false,
                error: "invalid",
                reason: `unknown wake template "${template}" (known: ${WAKE_TEMPLATES.join(", ")})`,
            };
        }
        const target = deps.wakeTarget;
        if (target === undefined) {
            return {ok: false, error: "unavailable", reason: "no wake target is wired"};
        }
        let command: WireMqttCommand;
        try {
            command = buildWakeCommand(
                template,
                wakeParams(id, target, link.localAddressOf(id), now()),
                request.customPayload ?? override?.customPayload ?? wakeConfig.customPayload,
            );
        } catch (error) {
            if (error instanceof CommandValidationError) {
                return {ok: false, error: "invalid", reason: error.message};
            }
            throw error;
        }
        if (store.get(id)?.mqttOnline !== true) {
            return {ok: false, error: "unavailable", reason: "the camera is not connected over MQTT"};
        }
        let isSent: boolean;
        try {
            isSent = await link.sendCommand(id, command);
        } catch (error) {
            return {ok: false, error: "unavailable", reason: error instanceof Error ? error.message : String(error)};
        }
        if (!isSent) {
            return {ok: false, error: "unavailable", reason: "camera broker unavailable"};
        }
        wakeLog.debug(() => `${id}: wake ${template} ${JSON.stringify(Object.keys(command))}`);
        return {ok: true, template, payload: command};
    };

    const wakeDirectory = new WakeOnDemandDirectory(
        deps.directory,
        {
            ids: () =>
                store
                    .list()
                    .filter((state) => state.wakesOnDemand)
                    .map((state) => state.id),
            presence: (id) => presenceOf(store.get(id)),
            sendWake: (id, request) => sendWake(id, request),
        },
        {timeoutMs: wakeConfig.timeoutMs, minIntervalMs: wakeConfig.minIntervalMs},
        wakeLog,
        now,
    );

    let captureHooks: MqttCaptureHooks | undefined;
    const errStatusLogged = new Map<CameraId, number>();
    const firmwareNoted = new Map<CameraId, string>();
    const subscriptions: (() => void)[] = [];
    subscriptions.push(
        link.onEvent((event) => {
            log.debug(
                () => `${event.id}: MQTT ${event.type}${event.type === "status" ? ` ${event.report.status}` : ""}`,
            );
            store.handleMqttEvent(event);
            if (event.type !== "info") {
                return;
            }
            const {errStatus, firmware} = event.report.fields;
            if (errStatus !== undefined) {
                logErrStatusChange(wakeLog, errStatusLogged, event.id, errStatus);
                wakeDirectory.handleErrStatus(event.id, errStatus);
            }
            if (firmware !== undefined && captureHooks !== undefined && firmwareNoted.get(event.id) !== firmware) {
                firmwareNoted.set(event.id, firmware);
                captureHooks.noteFirmware(event.id, firmware);
            }
        }),
    );
    await link.start();

    const reconcile = (): void => {
        store.reconcile(deps.directory.list());
        wakeDirectory.reconcile();
    };
    reconcile();
    const reconcileTimer = setInterval(reconcile, timings.reconcileIntervalMs);
    if (deps.onCameraEvent !== undefined) {
        subscriptions.push(
            deps.onCameraEvent((event) => {
                store.handleTcpEvent(event);
                if (event.type === "online") {
                    wakeDirectory.handleTcpOnline(event.id);
                } else if (event.type === "offline") {
                    wakeDirectory.handleTcpOffline(event.id);
                }
                reconcile();
            }),
        );
    }

    const commander = new Commander(store, link, {...deps, directory: wakeDirectory}, log.child("bridge:commands"));
    const snapshots = new DirectorySnapshots(wakeDirectory, timings.snapshotTimeoutMs, now);

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
            wakeDirectory.forget(id);
            store.remove(id);
            errStatusLogged.delete(id);
            firmwareNoted.delete(id);
            await bridge.forget(id);
        },
        sendCommand: (id, command) => commander.sendRaw(id, command),
        commander,
        get isBridgeConnected() {
            return bridge.connected;
        },
        directory: wakeDirectory,
        waker: wakeDirectory,
        setCapture(capture) {
            captureHooks = capture;
            firmwareNoted.clear();
            link.setCaptureTap(capture?.tap);
        },
        async stop() {
            clearInterval(reconcileTimer);
            for (const unsubscribe of subscriptions.splice(0)) {
                unsubscribe();
            }
            commander.releaseAll();
            wakeDirectory.stop();
            link.setCaptureTap(undefined);
            store.dispose();
            await bridge.stop();
            await link.stop();
        },
    };
}

// ---- wake helpers -------------------------------------------------------------------------------

function presenceOf(state: CameraState | undefined): WakePresence | undefined {
    if (state === undefined) {
        return undefined;
    }
    return {
        mqttOnline: state.mqttOnline,
        wakesOnDemand: state.wakesOnDemand,
        family: state.family,
        errStatus: state.errStatus,
        firmware: state.firmware,
        lastSeenAtMs: state.lastSeenAtMs,
    };
}

/** The values a wake template may use (new-firmware-notes.md §5.2; S = where the camera reached us). */
function wakeParams(id: CameraId, target: WakeTarget, mqttLocalAddress: string | undefined, nowMs: number): WakeParams {
    return {
        deviceId: id,
        host: target.advertiseHost ?? mqttLocalAddress ?? target.fallbackHost,
        tcpPort: target.tcpPort,
        pwd: target.passwordFor(id),
        domain: CLOUD_DOMAIN,
        nowS: Math.floor(nowMs / 1000),
        userId: " ", // as the getDevInfo reply's userInfo_userId (bootstrapRoutes.ts)
        cliTarget: randomBytes(16).toString("hex"),
        cliToken: randomBytes(4).toString("hex"),
    };
}

/** Fails fast (house-style §4.5 rule 9) on a wake template or custom payload that could never be sent. */
function checkWakeConfig(cameras: CamerasConfigSlice, wake: WakeConfigSlice): void {
    const sample: WakeParams = {
        deviceId: "5c0000000000",
        host: "192.0.2.1",
        tcpPort: 6123,
        pwd: "00000000",
        domain: CLOUD_DOMAIN,
        nowS: 0,
        userId: " ",
        cliTarget: "0".repeat(32),
        cliToken: "0".repeat(8),
    };
    const check = (path: string, template: string, customPayload: string | null): void => {
        if (!isWakeTemplate(template)) {
            throw new Error(
                `${path}.template: unknown wake template "${template}" (known: ${WAKE_TEMPLATES.join(", ")})`,
            );
        }
        try {
            buildWakeCommand(template, sample, customPayload);
        } catch (error) {
            if (error instanceof CommandValidationError) {
                throw new Error(`${path}: ${error.message}`, {cause: error});
            }
            throw error;
        }
    };
    check("cameras.wake", wake.template, wake.customPayload);
    for (const [id, override] of Object.entries(cameras.overrides ?? {})) {
        const own = override.wake;
        if (own !== undefined && (own.template ?? own.customPayload ?? null) !== null) {
            check(
                `cameras.overrides.${id}.wake`,
                own.template ?? wake.template,
                own.customPayload ?? wake.customPayload,
            );
        }
    }
}

function logErrStatusChange(log: Logger, logged: Map<CameraId, number>, id: CameraId, errStatus: number): void {
    const previous = logged.get(id);
    if (previous === errStatus || (previous === undefined && errStatus === 0)) {
        logged.set(id, errStatus);
        return;
    }
    logged.set(id, errStatus);
    const text = `camera ${id} reports errStatus ${errStatus} (${describeErrStatus(errStatus)} [guess])`;
    if (errStatus === 0) {
        log.info(text);
    } else {
        log.warn(text);
    }
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
        const family = override?.family ?? deviceFamilyOf(id);
        return {
            ...emptyCameraState(id),
            name: override?.name ?? null,
            area: override?.area ?? null,
            family,
            model: deviceModelOf(id) ?? null,
            wakesOnDemand: family === "mqtt-first",
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
            let timer: NodeJS.Timeout | undefined;
            const finish = (frame: JpegFrame | undefined): void => {
                if (settled) {
                    return;
                }
                settled = true;
                clearTimeout(timer);
                subscription?.close();
                resolve(frame);
            };
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
                return;
            }
            // A camera being woken first gets its wake timeout on top (issue 6 item 3).
            timer = setTimeout(
                () => {
                    finish(undefined);
                },
                this.#timeoutMs + (result.waking?.timeoutMs ?? 0),
            );
        });
    }
}
