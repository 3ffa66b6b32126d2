import {afterEach, beforeEach, describe, expect, it, vi} from "vitest";
import {
    CameraStateStore,
    DEFAULT_MQTT_TIMINGS,
    DEFAULT_WAKE_CONFIG,
    type MqttConfigSlice,
    startMqtt,
} from "../../../src/app/mqttWiring.js";
import type {MqttCameraEvent} from "../../../src/camera/mqttCameraLink.js";
import type {CameraView} from "../../../src/model/camera.js";
import type {CameraState} from "../../../src/model/cameraState.js";
import {parseInfo, parseStatus} from "../../../src/protocol/mqttPayloads.js";
import {silentLogger} from "../../../src/util/log.js";

const ID = "0800c00128F8";
const status = (online: boolean, id = ID): MqttCameraEvent => ({
    type: "status",
    id,
    report: parseStatus(Buffer.from(`{"device":"${id}","token":"NAXCLOW","status": ${online ? 1 : 0}}`)),
});
const info = (json: string, id = ID): MqttCameraEvent => ({type: "info", id, report: parseInfo(Buffer.from(json))});

function view(patch: Partial<CameraView> = {}): CameraView {
    return {
        id: ID,
        address: "10.0.0.2:5000",
        firmware: "202212011602",
        online: true,
        streamState: "idle",
        fps: 0,
        lastFrameAtMs: null,
        lastSeenAtMs: null,
        baseInfo: null,
        consumers: 0,
        framesDelivered: 0,
        framesDropped: 0,
        ...patch,
    };
}

describe("CameraStateStore", () => {
    let nowMs = 1_000_000;
    let store: CameraStateStore;
    let changes: CameraState[];

    beforeEach(() => {
        vi.useFakeTimers();
        nowMs = 1_000_000;
        store = new CameraStateStore(
            {allow: [], overrides: {[ID]: {name: "Kitchen", area: null}}},
            DEFAULT_MQTT_TIMINGS,
            () => nowMs,
            (id) => ({snapshot: `http://h/api/cameras/${id}/snapshot.jpg`}),
        );
        changes = [];
        store.onChange((state) => changes.push(state));
    });

    afterEach(() => {
        store.dispose();
        vi.useRealTimers();
    });

    it("creates a camera from Status 1 with its override name and URLs", () => {
        store.handleMqttEvent(status(true));
        expect(store.get(ID)).toMatchObject({
            name: "Kitchen",
            online: true,
            mqttOnline: true,
            tcpOnline: false,
            lastSeenAtMs: nowMs,
            urls: {snapshot: `http://h/api/cameras/${ID}/snapshot.jpg`},
        });
        expect(changes).toHaveLength(1);
    });

    it("knows the family by id prefix or override, and that MQTT-first cameras wake on demand", () => {
        const families = new CameraStateStore(
            {overrides: {"0800c0000009": {family: "mqtt-first"}, "5600000000AA": {family: "classic"}}},
            DEFAULT_MQTT_TIMINGS,
            () => nowMs,
        );
        for (const id of ["5c00200204AB", "0800c0000009", "5600000000AA", ID]) {
            families.handleMqttEvent(status(true, id));
        }
        const summary = families.list().map((s) => [s.id, s.family, s.model, s.wakesOnDemand]);
        expect(summary).toStrictEqual([
            ["5c00200204AB", "mqtt-first", "CloudIpc", true],
            ["0800c0000009", "mqtt-first", "A9-4", true],
            ["5600000000AA", "classic", "P3", false],
            [ID, "classic", "A9-4", false],
        ]);
        families.dispose();
    });

    it("keeps the last Info errStatus", () => {
        store.handleMqttEvent(info('{"devPower": 90}'));
        expect(store.get(ID)?.errStatus).toBeNull();
        store.handleMqttEvent(info('{"errStatus": 2}'));
        store.handleMqttEvent(info('{"devPower": 80}'));
        expect(store.get(ID)?.errStatus).toBe(2);
    });

    it("merges Info fields and keeps unreported ones", () => {
        store.handleMqttEvent(info('{"devPower": 90,"IrLed": 1,"wifiName":"a"}'));
        store.handleMqttEvent(info('{"devPower": 80}'));
        expect(store.get(ID)).toMatchObject({batteryPercent: 80, irLed: 1, wifiName: "a", mqttOnline: true});
    });

    it("is online while TCP or MQTT says so (decisions.md 9)", () => {
        store.handleMqttEvent(status(true));
        store.handleTcpEvent({type: "online", id: ID});
        store.handleMqttEvent(status(false));
        expect(store.get(ID)?.online).toBe(true);
        store.handleTcpEvent({type: "offline", id: ID});
        expect(store.get(ID)?.online).toBe(false);
        store.handleMqttEvent({type: "disconnected", id: ID});
        expect(store.get(ID)?.online).toBe(false);
    });

    it("ignores cameras outside cameras.allow", () => {
        const only = new CameraStateStore({allow: ["0800c0020ADC"]}, DEFAULT_MQTT_TIMINGS, () => nowMs);
        only.handleMqttEvent(status(true));
        only.handleMqttEvent(status(true, "0800c0020ADC"));
        expect(only.list().map((s) => s.id)).toStrictEqual(["0800c0020ADC"]);
        only.dispose();
    });

    it("keeps a forgotten camera hidden until it comes online afresh", () => {
        store.handleMqttEvent(status(true));
        store.remove(ID);
        store.handleMqttEvent(info('{"devPower": 50}'));
        expect(store.get(ID)).toBeUndefined();
        store.handleMqttEvent(status(true));
        expect(store.get(ID)?.online).toBe(true);
    });

    it("does not create a camera from a will or a disconnect alone", () => {
        store.handleMqttEvent({type: "disconnected", id: ID});
        store.handleTcpEvent({type: "offline", id: ID});
        expect(store.get(ID)).toBeUndefined();
    });

    it("treats an unsolicited pirAlert or moveAlert change as motion, held for motionHoldMs", () => {
        store.handleMqttEvent(info('{"pirAlert": 0,"moveAlert": 0}'));
        expect(store.get(ID)?.motion).toBe(false);
        store.handleMqttEvent(info('{"pirAlert": 1}'));
        expect(store.get(ID)).toMatchObject({motion: true, lastMotionAtMs: nowMs});
        vi.advanceTimersByTime(DEFAULT_MQTT_TIMINGS.motionHoldMs);
        expect(store.get(ID)?.motion).toBe(false);
    });

    it("does not count a change we commanded as motion", () => {
        store.handleMqttEvent(info('{"moveAlert": 0}'));
        store.noteCommand(ID, "motionAlert");
        store.handleMqttEvent(info('{"moveAlert": 1}'));
        expect(store.get(ID)?.motion).toBe(false);
    });

    it("reports TCP motion events", () => {
        store.handleMqttEvent(status(true));
        store.handleTcpEvent({type: "motion", id: ID});
        expect(store.get(ID)?.motion).toBe(true);
    });

    it("notifies a last-seen-only change at most once per granularity period", () => {
        store.handleMqttEvent(info("{}"));
        const count = changes.length;
        nowMs += 1000;
        store.handleMqttEvent(info("{}"));
        expect(changes).toHaveLength(count);
        expect(store.get(ID)?.lastSeenAtMs).toBe(nowMs);
        nowMs += DEFAULT_MQTT_TIMINGS.lastSeenGranularityMs;
        store.handleMqttEvent(info("{}"));
        expect(changes).toHaveLength(count + 1);
    });

    it("reconciles TCP presence, streaming, base info and firmware from the directory", () => {
        const baseInfo = {code: 4, mirrorFlip: 4, devPower: 70};
        store.reconcile([view({baseInfo, streamState: "streaming", lastSeenAtMs: nowMs - 5})]);
        expect(store.get(ID)).toMatchObject({
            tcpKnown: true,
            tcpOnline: true,
            online: true,
            streaming: true,
            flip: 4,
            batteryPercent: 70,
            firmware: "202212011602",
        });
        store.handleMqttEvent(info('{"devPower": 60}'));
        store.reconcile([view({baseInfo})]); // same base info object: not applied again
        expect(store.get(ID)?.batteryPercent).toBe(60);
        store.reconcile([]);
        expect(store.get(ID)).toMatchObject({tcpOnline: false, streaming: false, online: true});
    });

    it("does not create offline directory cameras", () => {
        store.reconcile([view({online: false})]);
        expect(store.get(ID)).toBeUndefined();
    });
});

describe("startMqtt wake configuration", () => {
    const mqtt: MqttConfigSlice = {
        enabled: true,
        url: null,
        baseTopic: "v720",
        discoveryPrefix: "homeassistant",
        haStatusTopic: "homeassistant/status",
        discoveryMode: "device",
        snapshotIntervalS: 0,
        broker: {embedded: true, port: 0, host: "127.0.0.1"},
    };
    const deps = {
        directory: {
            list: () => [],
            get: () => undefined,
            subscribe: () => ({ok: false, reason: "offline"}) as const,
            latestFrame: () => undefined,
        },
        sendForward: () => false,
    };

    it.each([
        [
            {...DEFAULT_WAKE_CONFIG, template: "custom"},
            {},
            "cameras.wake: the custom wake template needs cameras.wake.custom_payload",
        ],
        [
            {...DEFAULT_WAKE_CONFIG, template: "candidate7"},
            {},
            'cameras.wake.template: unknown wake template "candidate7"',
        ],
        [
            DEFAULT_WAKE_CONFIG,
            {"5c00200204AB": {wake: {template: "custom", customPayload: '{"code":299}'}}},
            "cameras.overrides.5c00200204AB.wake: the custom wake payload's code must be an integer 230..249, got 299",
        ],
    ])("refuses to start with a wake that could never be sent (%#)", async (wake, overrides, message) => {
        await expect(
            startMqtt({mqtt, cameras: {wake, overrides}, version: "test"}, deps, silentLogger),
        ).rejects.toThrow(message);
    });
});
