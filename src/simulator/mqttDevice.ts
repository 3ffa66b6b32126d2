/**
 * The simulated camera's MQTT leg, byte-compatible with the capture (protocol-notes.md §7.1–7.2,
 * capture-dump.md frames 45–58):
 *   CONNECT  MQTT 3.1.1, flags 0xCE, keep-alive 10, client id = username = id, password `"<hex>"`
 *            with literal quotes, will on Status `{"device":"<id>","token":"NAXCLOW","status": 0}` QoS 1
 *   SUBSCRIBE packet id 1, `Naxclow/P2P/Users/Device/sub/<id>`, QoS 1
 *   PUBLISH  QoS 0 Status `..."status": 1}`, then (about 1 s later) Info
 * It applies received commands to its own settings and answers each with a fresh Info, as the real
 * camera does (new-firmware-notes.md §3.2). Imports only protocol/, util/ and mqtt (decisions.md 6).
 *
 * personality "mqtt-first" (firmware 202411152039, intx82#50, protocol-notes.md §7.2): Status 0 then
 * Status 1 with a hex token instead of NAXCLOW, and the newer Info keys (pirDevice, pirSysMode,
 * devPower 51, pirGrade, moveGrade, pirAlert, IrLed 2, lightGrade, …) in that firmware's order.
 */
import {connect, type IClientOptions, type MqttClient} from "mqtt";
import {ProtocolError} from "../protocol/errors.js";
import {
    buildStatusPayload,
    encodeDeviceJson,
    encodeWifiScan,
    MqttCommandCode,
    NaxclowTopic,
    naxclowCommandTopic,
    parseMqttCommand,
    type WifiNetwork,
    type WireMqttCommand,
} from "../protocol/mqttPayloads.js";
import {type Logger, silentLogger} from "../util/log.js";

export interface MqttDeviceOptions {
    /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
    readonly url: string;
    readonly deviceId: string;
    /** "classic" (the 2023 capture, default) or "mqtt-first" (firmware 202411152039, see above). */
    readonly personality?: "classic" | "mqtt-first";
    /** Without the quotes; sent as `"<password>"` [CAP]. Default: 10 random hex digits. */
    readonly password?: string;
    readonly firmware?: string;
    readonly wifiName?: string;
    readonly batteryPercent?: number;
    /** Delay between Status 1 and the first Info; the camera waits about 1 s [CAP]. */
    readonly infoDelayMs?: number;
    /** How long a reboot (299) keeps the camera away before it reconnects. */
    readonly rebootDelayMs?: number;
    /** Settings of newer firmware that the Info carries from the start, e.g. {moveGrade: 3, pirGrade: 2}. */
    readonly extraInfo?: Readonly<Record<string, number | string>>;
    /** Networks a 211 scan reports. */
    readonly scanNetworks?: readonly WifiNetwork[];
    /** `random` and `token` of each Info (they change on every publish [CAP]). */
    readonly nonce?: () => {readonly random: string; readonly token: string};
    readonly reconnectPeriodMs?: number;
    /** start() rejects when no connection succeeds within this time. Default 10000. */
    readonly connectTimeoutMs?: number;
    readonly log?: Logger;
}

/** The Info keys of firmware 202212011602 in capture order, then anything a command added. */
const CLASSIC_INFO_KEYS = [
    "apStatus",
    "devPower",
    "sdCapacity",
    "IrLed",
    "SD_freeDisk",
    "SD_blockDisk",
    "cameraState",
    "sd_State",
    "sdMoveMode",
    "sdCardReco",
    "instLed",
] as const;

/** Info keys of firmware 202411152039 [ISSUE #50] before random/token/…, with plausible values (devPower 51, IrLed 2 as reported). */
const MQTT_FIRST_INFO: readonly (readonly [string, number])[] = [
    ["pirDevice", 1],
    ["pirSysMode", 2],
    ["devPower", 51],
    ["pirGrade", 2],
    ["moveGrade", 3],
    ["instLed", 1],
    ["sdCapacity", 0],
    ["pirAlert", 1],
    ["IrLed", 2],
    ["lightGrade", 2],
    ["sdMoveMode", 0],
    ["sdCardReco", 0],
];

/** Command code → the Info key it sets (protocol-notes.md §7.4). */
const SETTING_KEYS: ReadonlyMap<number, string> = new Map([
    [MqttCommandCode.irLed, "IrLed"],
    [MqttCommandCode.moveMode, "sdMoveMode"],
    [MqttCommandCode.moveAlert, "moveAlert"],
    [MqttCommandCode.moveGrade, "moveGrade"],
    [MqttCommandCode.sdCardReco, "sdCardReco"],
    [MqttCommandCode.instLed, "instLed"],
    [MqttCommandCode.pirSysMode, "pirSysMode"],
    [MqttCommandCode.pirAlert, "pirAlert"],
    [MqttCommandCode.lightGrade, "lightGrade"],
    [MqttCommandCode.pirGrade, "pirGrade"],
]);

type CommandListener = (command: WireMqttCommand) => void;

/** Packet ids 1, 2, 3… per connection, so the first SUBSCRIBE carries id 1 like the camera's. */
class SequentialMessageIds implements NonNullable<IClientOptions["messageIdProvider"]> {
    #next = 1;
    #last: number | null = null;
    allocate(): number {
        const id = this.#next;
        this.#next = this.#next >= 65535 ? 1 : this.#next + 1;
        this.#last = id;
        return id;
    }
    getLastAllocated(): number | null {
        return this.#last;
    }
    register(): boolean {
        return true;
    }
    deallocate(): void {
        // ids are not reused before wrapping
    }
    clear(): void {
        this.#next = 1;
        this.#last = null;
    }
}

export class MqttDevice {
    readonly deviceId: string;
    readonly password: string;
    readonly #options: MqttDeviceOptions;
    readonly #log: Logger;
    /** Info values, in publish order. */
    readonly #info = new Map<string, number | string>();
    readonly #commands: WireMqttCommand[] = [];
    readonly #listeners = new Set<CommandListener>();
    #client: MqttClient | null = null;
    #infoTimer: NodeJS.Timeout | null = null;
    #rebootTimer: NodeJS.Timeout | null = null;
    #pendingScan: string | null = null;
    #stopped = false;
    #connects = 0;
    readonly #isMqttFirst: boolean;
    /** The Status token: NAXCLOW [CAP], or hex on firmware 202411152039. */
    readonly #statusToken: string;
    /** Fault injection: false = take commands but never apply or answer them. */
    respondToCommands = true;

    constructor(options: MqttDeviceOptions) {
        this.deviceId = options.deviceId;
        this.password = options.password ?? randomHex(10);
        this.#options = options;
        this.#log = options.log ?? silentLogger;
        this.#isMqttFirst = options.personality === "mqtt-first";
        this.#statusToken = this.#isMqttFirst ? randomHex(10) : "NAXCLOW";
        if (this.#isMqttFirst) {
            for (const [key, value] of MQTT_FIRST_INFO) {
                this.#info.set(key, key === "devPower" ? (options.batteryPercent ?? value) : value);
            }
            for (const [key, value] of Object.entries(options.extraInfo ?? {})) {
                this.#info.set(key, value);
            }
            return;
        }
        // Device spelling (`SD_freeDisk`, `sd_State`) kept as tuples; values of the capture's second Info.
        const initial: readonly (readonly [(typeof CLASSIC_INFO_KEYS)[number], number])[] = [
            ["apStatus", 0],
            ["devPower", options.batteryPercent ?? 100],
            ["sdCapacity", 60],
            ["IrLed", 0],
            ["SD_freeDisk", 35359],
            ["SD_blockDisk", 60334],
            ["cameraState", 0],
            ["sd_State", 1],
            ["sdMoveMode", 0],
            ["sdCardReco", 1],
            ["instLed", 1],
        ];
        for (const [key, value] of initial) {
            this.#info.set(key, value);
        }
        for (const [key, value] of Object.entries(options.extraInfo ?? {})) {
            this.#info.set(key, value);
        }
    }

    /** Every command received, in order. */
    get receivedCommands(): readonly WireMqttCommand[] {
        return this.#commands;
    }

    /** Current value of an Info key (e.g. `IrLed`). */
    setting(key: string): number | string | undefined {
        return this.#info.get(key);
    }

    /** Sets an Info key (for example `errStatus`); it goes out with the next Info. */
    setSetting(key: string, value: number | string): void {
        this.#info.set(key, value);
    }

    /** How many times the device has connected (reboots reconnect). */
    get connectCount(): number {
        return this.#connects;
    }

    get connected(): boolean {
        return this.#client?.connected ?? false;
    }

    onCommand(listener: CommandListener): () => void {
        this.#listeners.add(listener);
        return () => {
            this.#listeners.delete(listener);
        };
    }

    /** Connects and runs the boot sequence; resolves once Status 1 is published. */
    start(): Promise<void> {
        this.#stopped = false;
        return this.#connect();
    }

    /** Power-off as seen on the wire: Status 0, then a clean DISCONNECT (no will) [LOG]. */
    async powerOff(): Promise<void> {
        this.#stopped = true;
        this.#clearTimers();
        const client = this.#client;
        this.#client = null;
        if (client === null) {
            return;
        }
        if (client.connected) {
            await client.publishAsync(
                NaxclowTopic.status,
                buildStatusPayload(this.deviceId, false, this.#statusToken),
                {qos: 0},
            );
        }
        await client.endAsync();
    }

    /** Loses power without a word: the socket is destroyed, so the broker publishes the will. */
    async crash(): Promise<void> {
        this.#stopped = true;
        this.#clearTimers();
        const client = this.#client;
        this.#client = null;
        await client?.endAsync(true);
    }

    /** Stops without publishing anything (same as crash for the broker). */
    stop(): Promise<void> {
        return this.crash();
    }

    /** Publishes an Info with the current settings (and a pending scan result, once). */
    async publishInfo(): Promise<void> {
        const client = this.#client;
        if (client === null || !client.connected) {
            return;
        }
        const nonce = this.#options.nonce?.() ?? {random: randomLetters(6), token: randomHex(10)};
        const entries: [string, string | number][] = [];
        for (const [key, value] of this.#info) {
            entries.push([key, value]);
        }
        if (this.#isMqttFirst) {
            entries.push(["token", nonce.token], ["random", nonce.random]);
            entries.push(["wifiName", this.#options.wifiName ?? "sim-wifi"], ["devicesCode", this.deviceId]);
        } else {
            entries.push(["random", nonce.random], ["token", nonce.token], ["devicesCode", this.deviceId]);
            entries.push(["wifiName", this.#options.wifiName ?? "sim-wifi"]);
        }
        entries.push(["version", this.#options.firmware ?? (this.#isMqttFirst ? "202411152039" : "202212011602")]);
        if (this.#pendingScan !== null) {
            entries.push(["scanWifiBase64", this.#pendingScan]);
            this.#pendingScan = null;
        }
        await client.publishAsync(NaxclowTopic.info, encodeDeviceJson(entries), {qos: 0, retain: false});
    }

    #connect(): Promise<void> {
        const id = this.deviceId;
        const client = connect(this.#options.url, {
            protocolVersion: 4,
            clientId: id,
            username: id,
            password: Buffer.from(`"${this.password}"`, "utf8"),
            keepalive: 10,
            clean: true,
            resubscribe: false,
            reconnectPeriod: this.#options.reconnectPeriodMs ?? 1000,
            messageIdProvider: new SequentialMessageIds(),
            will: {
                topic: NaxclowTopic.status,
                payload: buildStatusPayload(id, false, this.#statusToken),
                qos: 1,
                retain: false,
            },
        });
        this.#client = client;
        client.on("error", (error) => {
            this.#log.debug(`sim ${id}: MQTT error ${error.message}`);
        });
        client.on("message", (topic, payload) => {
            if (topic === naxclowCommandTopic(id)) {
                this.#handleCommand(payload);
            }
        });
        return new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => {
                reject(new Error(`sim ${id}: no MQTT connection to ${this.#options.url}`));
            }, this.#options.connectTimeoutMs ?? 10_000);
            client.on("connect", () => {
                this.#connects += 1;
                this.#log.debug(`sim ${id}: connected (${this.#connects})`);
                this.#boot(client)
                    .then(() => {
                        clearTimeout(timer);
                        resolve();
                    })
                    .catch((error: unknown) => {
                        this.#log.debug(`sim ${id}: boot sequence failed: ${String(error)}`);
                    });
            });
        });
    }

    /** SUBSCRIBE (id 1, QoS 1), PUBLISH Status 1, Info after `infoDelayMs` [CAP]. */
    async #boot(client: MqttClient): Promise<void> {
        (client.options.messageIdProvider as SequentialMessageIds | undefined)?.clear();
        await client.subscribeAsync(naxclowCommandTopic(this.deviceId), {qos: 1});
        if (this.#isMqttFirst) {
            // [ISSUE #50] firmware 202411152039 publishes Status 0 first, then Status 1
            await client.publishAsync(
                NaxclowTopic.status,
                buildStatusPayload(this.deviceId, false, this.#statusToken),
                {
                    qos: 0,
                    retain: false,
                },
            );
        }
        await client.publishAsync(NaxclowTopic.status, buildStatusPayload(this.deviceId, true, this.#statusToken), {
            qos: 0,
            retain: false,
        });
        this.#log.debug(`sim ${this.deviceId}: Status 1 published`);
        this.#scheduleInfo(this.#options.infoDelayMs ?? 1000);
    }

    #scheduleInfo(delayMs: number): void {
        if (this.#infoTimer !== null) {
            clearTimeout(this.#infoTimer);
        }
        this.#infoTimer = setTimeout(() => {
            this.#infoTimer = null;
            this.publishInfo().catch((error: unknown) => {
                this.#log.debug(`sim ${this.deviceId}: Info publish failed: ${String(error)}`);
            });
        }, delayMs);
    }

    #handleCommand(payload: Buffer): void {
        let command: WireMqttCommand;
        try {
            command = parseMqttCommand(payload);
        } catch (error) {
            if (error instanceof ProtocolError) {
                this.#log.debug(`sim ${this.deviceId}: bad command ${error.message}`);
                return;
            }
            throw error;
        }
        this.#commands.push(command);
        for (const listener of this.#listeners) {
            listener(command);
        }
        if (!this.respondToCommands) {
            return;
        }
        const key = SETTING_KEYS.get(command.code);
        const value = key === undefined ? undefined : command[key];
        if (key !== undefined && typeof value === "number") {
            this.#info.set(key, value);
        } else if (command.code === MqttCommandCode.sdCardFormat) {
            const total = this.#info.get("SD_blockDisk");
            if (typeof total === "number" && total > 0) {
                this.#info.set("SD_freeDisk", total);
            }
        } else if (command.code === MqttCommandCode.wifiScan) {
            this.#pendingScan = encodeWifiScan(
                this.#options.scanNetworks ?? [
                    {ssid: "sim-wifi", rssi: -42},
                    {ssid: "neighbour", rssi: -80},
                ],
            );
        } else if (command.code === MqttCommandCode.reboot) {
            this.#reboot();
            return;
        }
        this.publishInfo().catch((error: unknown) => {
            this.#log.debug(`sim ${this.deviceId}: Info publish failed: ${String(error)}`);
        });
    }

    /** Status 0, drop the connection, come back after `rebootDelayMs`. */
    #reboot(): void {
        const client = this.#client;
        if (client === null) {
            return;
        }
        this.#clearTimers();
        this.#client = null;
        client
            .publishAsync(NaxclowTopic.status, buildStatusPayload(this.deviceId, false, this.#statusToken), {qos: 0})
            .then(() => client.endAsync())
            .then(() => {
                this.#rebootTimer = setTimeout(() => {
                    this.#rebootTimer = null;
                    if (!this.#stopped) {
                        this.#connect().catch(() => undefined);
                    }
                }, this.#options.rebootDelayMs ?? 1000);
            })
            .catch((error: unknown) => {
                this.#log.debug(`sim ${this.deviceId}: reboot failed: ${String(error)}`);
            });
    }

    #clearTimers(): void {
        if (this.#infoTimer !== null) {
            clearTimeout(this.#infoTimer);
            this.#infoTimer = null;
        }
        if (this.#rebootTimer !== null) {
            clearTimeout(this.#rebootTimer);
            this.#rebootTimer = null;
        }
    }
}

function randomHex(length: number): string {
    let out = "";
    for (let i = 0; i < length; i += 1) {
        out += Math.floor(Math.random() * 16).toString(16);
    }
    return out;
}

function randomLetters(length: number): string {
    let out = "";
    for (let i = 0; i < length; i += 1) {
        out += String.fromCharCode(65 + Math.floor(Math.random() * 26));
    }
    return out;
}
