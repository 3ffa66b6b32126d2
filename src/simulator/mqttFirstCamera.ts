/**
 * A simulated MQTT-first camera (P3 / CloudIpc / monitor2, ids 56/5b/5c/60; new-firmware-notes.md §5.2):
 * a SimCamera with the "mqtt-first" personality plus its MqttDevice leg ("mqtt-first" personality).
 *
 *   boot   getDevInfo (strict HTTP) → MQTT CONNECT, SUBSCRIBE sub/<id>, Status 0, Status 1, Info
 *          (firmware 202411152039 keys) → idle on MQTT, no TCP
 *   wake   a command with `wakeCode` (240) carrying the `wakeRequires` keys → TCP to the payload's
 *          host/tcpPort (or cliIp/cliPort; else what getDevInfo said) with its pwd as token → code 100,
 *          then the classic handshake and media when asked
 *   sleep  TCP is closed `idleDisconnectMs` after the stream stops; the next wake opens it again
 *
 * Which payload really wakes a camera is unknown [GUESS]; `wakeRequires` lets a test model a camera
 * that only understands some candidates, and `answersWake: false` one that never answers.
 */
import type {WireMqttCommand} from "../protocol/mqttPayloads.js";
import {MqttDevice, type MqttDeviceOptions} from "./mqttDevice.js";
import {SimCamera, type SimCameraOptions} from "./simCamera.js";

export interface MqttFirstCameraOptions extends Omit<SimCameraOptions, "personality"> {
    /** The camera broker, e.g. `mqtt://127.0.0.1:1883`. */
    readonly brokerUrl: string;
    /** The MQTT code that wakes it; default 240. */
    readonly wakeCode?: number;
    /** Keys the wake message must carry, e.g. ["host", "tcpPort"]; default none (any `wakeCode` message). */
    readonly wakeRequires?: readonly string[];
    /** false: takes wake messages but never opens TCP. Default true. */
    readonly answersWake?: boolean;
    /** Published as `errStatus` in the Info that answers a wake it does not act on (e.g. 2); default none. */
    readonly errStatusOnIgnoredWake?: number;
    /** Extra options of the MQTT leg. */
    readonly mqtt?: Partial<Omit<MqttDeviceOptions, "url" | "deviceId" | "personality">>;
}

export class MqttFirstCamera {
    readonly id: string;
    readonly sim: SimCamera;
    readonly mqtt: MqttDevice;
    readonly #options: MqttFirstCameraOptions;
    readonly #wakes: WireMqttCommand[] = [];
    #offCommand: (() => void) | undefined;

    constructor(options: MqttFirstCameraOptions) {
        const {
            brokerUrl,
            wakeCode: _code,
            wakeRequires: _requires,
            answersWake: _answers,
            errStatusOnIgnoredWake: _errStatus,
            mqtt,
            ...sim
        } = options;
        this.id = options.id;
        this.#options = options;
        this.sim = new SimCamera({...sim, personality: "mqtt-first"});
        this.mqtt = new MqttDevice({
            infoDelayMs: 100,
            ...mqtt,
            url: brokerUrl,
            deviceId: options.id,
            personality: "mqtt-first",
            ...(options.firmware === undefined ? {} : {firmware: options.firmware}),
            ...(options.log === undefined ? {} : {log: options.log}),
        });
    }

    /** Every wake message received (`wakeCode`), whether acted on or not. */
    get wakesReceived(): readonly WireMqttCommand[] {
        return this.#wakes;
    }

    /** getDevInfo first (when there is an HTTP port), then the MQTT leg; resolves once Status 1 is out. */
    async start(): Promise<void> {
        this.#offCommand ??= this.mqtt.onCommand((command) => {
            this.#handleCommand(command);
        });
        if (!this.sim.isAsleep) {
            const asleep = new Promise<void>((resolve) => {
                this.sim.once("asleep", () => resolve());
            });
            this.sim.start();
            await asleep;
        }
        await this.mqtt.start();
    }

    /** Both legs gone without a word (the broker publishes the will). */
    async stop(): Promise<void> {
        this.#offCommand?.();
        this.#offCommand = undefined;
        await Promise.all([this.sim.close({abrupt: true}), this.mqtt.stop()]);
    }

    #handleCommand(command: WireMqttCommand): void {
        if (command.code !== (this.#options.wakeCode ?? 240)) {
            return;
        }
        this.#wakes.push(command);
        const requires = this.#options.wakeRequires ?? [];
        const understood = this.#options.answersWake !== false && requires.every((key) => command[key] !== undefined);
        if (!understood) {
            const errStatus = this.#options.errStatusOnIgnoredWake;
            if (errStatus !== undefined) {
                // the Info that answers every command (mqttDevice.ts) carries it
                this.mqtt.setSetting("errStatus", errStatus);
            }
            return;
        }
        const host = stringField(command["host"]) ?? stringField(command["cliIp"]);
        const tcpPort = portField(command["tcpPort"]) ?? portField(command["cliPort"]);
        const token = stringField(command["pwd"]);
        this.sim.wake({
            ...(host === undefined ? {} : {host}),
            ...(tcpPort === undefined ? {} : {tcpPort}),
            ...(token === undefined ? {} : {token}),
        });
    }
}

function stringField(value: unknown): string | undefined {
    return typeof value === "string" && value.length > 0 ? value : undefined;
}

function portField(value: unknown): number | undefined {
    const port = typeof value === "string" ? Number(value) : value;
    return typeof port === "number" && Number.isInteger(port) && port > 0 && port <= 65_535 ? port : undefined;
}
