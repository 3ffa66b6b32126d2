/**
 * Issue 3 end to end on the REAL embedded aedes broker (127.0.0.1, port 0): the simulated camera's
 * MQTT leg, the HA bridge, and an mqtt.js client in the role of Home Assistant. The TCP side is a
 * fake CameraDirectory (the real registry is wired by app.ts).
 */
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {type MqttHandle, startMqtt, type TcpCameraEvent} from "../../src/app/mqttWiring.js";
import {buildStatePayload} from "../../src/bridge/statePayload.js";
import {MqttDevice} from "../../src/simulator/mqttDevice.js";
import {silentLogger} from "../../src/util/log.js";
import {checkDiscovery} from "../support/haDiscoveryRules.js";
import {
    FAST_TIMINGS,
    FakeDirectory,
    mqttConfig,
    readRetained,
    readRetainedJson,
    TestMqttClient,
} from "../support/mqttHarness.js";

const TCP_CAM = "0800c00128F8"; // TCP session + MQTT, PIR firmware keys
const MQTT_CAM = "0800c0020ADC"; // MQTT only
const CRASH_CAM = "0800c0107D4A"; // MQTT only, loses power

describe("Home Assistant over MQTT with the embedded broker", () => {
    const directory = new FakeDirectory();
    const forwards: {id: string; content: Record<string, unknown>}[] = [];
    let handle: MqttHandle;
    let url: string;
    let ha: TestMqttClient;
    let tcpCam: MqttDevice;
    let mqttCam: MqttDevice;
    let tcpEvents: ((event: TcpCameraEvent) => void) | undefined;

    beforeAll(async () => {
        directory.addCamera(TCP_CAM, {
            baseInfo: JSON.parse(
                '{"code":4,"mirrorFlip":0,"moveAlert":0,"IrLed":0,"devPower":100,"version":"202212011602"}',
            ) as Record<string, unknown>,
        });
        handle = await startMqtt(
            {
                mqtt: mqttConfig(),
                cameras: {allow: [], overrides: {[TCP_CAM]: {name: "Kitchen", area: "Kitchen"}}},
                version: "0.1.0-test",
                timings: FAST_TIMINGS,
            },
            {
                directory,
                sendForward: (id, content) => {
                    forwards.push({id, content: {...content}});
                    return directory.get(id)?.online === true;
                },
                streamUrls: (id) => ({mjpeg: `http://127.0.0.1:8099/api/cameras/${id}/stream.mjpeg`}),
                onCameraEvent: (listener) => {
                    tcpEvents = listener;
                    return () => {
                        tcpEvents = undefined;
                    };
                },
            },
            silentLogger,
        );
        url = `mqtt://127.0.0.1:${handle.brokerPort}`;
        ha = await TestMqttClient.connect(url);
        await ha.subscribe("v720/#", "Naxclow/#");
        tcpCam = new MqttDevice({
            url,
            deviceId: TCP_CAM,
            infoDelayMs: 0,
            rebootDelayMs: 100,
            extraInfo: {moveGrade: 2, pirGrade: 1},
        });
        mqttCam = new MqttDevice({url, deviceId: MQTT_CAM, infoDelayMs: 0});
        await Promise.all([tcpCam.start(), mqttCam.start()]);
    });

    /** The value the camera itself reported (no optimistic overlay). */
    const reported = (id: string, stateKey: string): unknown => {
        const state = handle.states.get(id);
        return state === undefined ? undefined : buildStatePayload(state)[stateKey];
    };

    afterAll(async () => {
        await Promise.allSettled([tcpCam.stop(), mqttCam.stop(), ha.end()]);
        await handle.stop();
    });

    it("publishes retained discovery that a fresh subscriber reads and HA's rules accept", async () => {
        await expect
            .poll(async () => [...(await readRetainedJson(url, "homeassistant/#")).keys()].sort())
            .toStrictEqual([
                "homeassistant/device/0800c00128F8/config",
                "homeassistant/device/0800c0020ADC/config",
                "homeassistant/device/v720_bridge_v720/config",
            ]);
        // Capabilities arrive with Info and the base info: wait until the grades and flip are offered.
        await expect
            .poll(async () => {
                const discovery = (await readRetainedJson(url, "homeassistant/#")).get(
                    `homeassistant/device/${TCP_CAM}/config`,
                );
                return Object.keys((discovery?.["cmps"] ?? {}) as object);
            })
            .toEqual(expect.arrayContaining(["flip", "motion_sensitivity", "pir_sensitivity", "live_stream"]));
        const retained = await readRetainedJson(url, "homeassistant/#");
        const messages = [...retained].map(([topic, payload]) => ({topic, payload}));
        expect(checkDiscovery(messages, "homeassistant")).toStrictEqual([]);
        const device = retained.get(`homeassistant/device/${TCP_CAM}/config`);
        expect(device?.["device"]).toMatchObject({
            identifiers: [`v720_${TCP_CAM}`],
            name: "Kitchen",
            suggested_area: "Kitchen",
            sw_version: "202212011602",
            via_device: "v720_bridge_v720",
        });
        expect(device?.["availability"]).toStrictEqual([
            {topic: "v720/bridge/state"},
            {topic: `v720/${TCP_CAM}/availability`},
        ]);
        const mqttOnly = retained.get(`homeassistant/device/${MQTT_CAM}/config`);
        expect(Object.keys((mqttOnly?.["cmps"] ?? {}) as object)).not.toContain("flip");
    });

    it("publishes availability, bridge state and the camera state from Status and Info", async () => {
        await expect
            .poll(async () => {
                const retained = await readRetained(url, "v720/+/+");
                return {
                    bridge: retained.get("v720/bridge/state")?.toString(),
                    tcp: retained.get(`v720/${TCP_CAM}/availability`)?.toString(),
                    mqtt: retained.get(`v720/${MQTT_CAM}/availability`)?.toString(),
                };
            })
            .toStrictEqual({bridge: "online", tcp: "online", mqtt: "online"});
        const state = (await readRetainedJson(url, "v720/+/state")).get(`v720/${MQTT_CAM}/state`);
        expect(state).toMatchObject({
            online: true,
            mqtt_online: true,
            battery: 100,
            ir_led: "OFF",
            status_led: "ON",
            sd_recording: "ON",
            record_on_motion: "OFF",
            sd_free: 35359,
            sd_capacity: 60334,
            wifi_name: "sim-wifi",
            firmware: "202212011602",
        });
        const bridge = (await readRetainedJson(url, "v720/bridge/info")).get("v720/bridge/info");
        expect(bridge).toMatchObject({version: "0.1.0-test", cameras_online: 2, cameras_known: 2});
        expect((await readRetainedJson(url, "v720/+/state")).get(`v720/${TCP_CAM}/state`)).toMatchObject({
            urls: {mjpeg: `http://127.0.0.1:8099/api/cameras/${TCP_CAM}/stream.mjpeg`},
            flip: "normal",
        });
    });

    const roundTrips: [string, string, Record<string, unknown>, string, unknown][] = [
        ["ir_led", "ON", JSON.parse('{"code":202,"IrLed":1}') as Record<string, unknown>, "ir_led", "ON"],
        ["status_led", "OFF", {code: 210, instLed: 0}, "status_led", "OFF"],
        ["sd_recording", "OFF", {code: 209, sdCardReco: 0}, "sd_recording", "OFF"],
        ["motion_alert", "ON", {code: 205, moveAlert: 1}, "motion_alert", "ON"],
        ["record_on_motion", "ON", {code: 203, sdMoveMode: 1}, "record_on_motion", "ON"],
        ["motion_sensitivity", "4", {code: 206, moveGrade: 4}, "motion_sensitivity", 4],
        ["pir_sensitivity", "3", {code: 215, pirGrade: 3}, "pir_sensitivity", 3],
        ["wifi_scan", "PRESS", {code: 211}, "wifi_networks", 2],
        ["format_sd", "PRESS", {code: 207}, "sd_free", 60334],
    ];

    it.each(roundTrips)(
        "%s = %s reaches Naxclow/P2P/Users/Device/sub/<id> as the right JSON and the state comes back",
        async (entity, payload, json, stateKey, expected) => {
            const since = ha.mark();
            await ha.publish(`v720/${TCP_CAM}/${entity}/set`, payload);
            const command = await ha.next(`Naxclow/P2P/Users/Device/sub/${TCP_CAM}`, () => true, since);
            expect(JSON.parse(command.payload.toString("utf8"))).toStrictEqual(json);
            expect(tcpCam.receivedCommands.at(-1)).toStrictEqual(json);
            await ha.nextJson(`v720/${TCP_CAM}/state`, (state) => state[stateKey] === expected, since);
            // Reported by the camera's Info, not only shown optimistically.
            await expect.poll(() => reported(TCP_CAM, stateKey)).toStrictEqual(expected);
        },
    );

    it("keeps confirmed values after the confirm timeout (the camera's own report)", () => {
        const state = handle.states.get(TCP_CAM);
        expect(state).toMatchObject({
            irLed: 1,
            statusLed: false,
            sdRecording: false,
            motionAlert: true,
            recordOnMotion: true,
            motionSensitivity: 4,
            pirSensitivity: 3,
        });
        expect(state?.wifiScan).toStrictEqual([
            {ssid: "sim-wifi", rssi: -42},
            {ssid: "neighbour", rssi: -80},
        ]);
    });

    it("reboot sends {code:299, reboot:1}; the camera goes away and comes back", async () => {
        const since = ha.mark();
        const connects = tcpCam.connectCount;
        await ha.publish(`v720/${TCP_CAM}/reboot/set`, "PRESS");
        const command = await ha.next(`Naxclow/P2P/Users/Device/sub/${TCP_CAM}`, () => true, since);
        expect(JSON.parse(command.payload.toString("utf8"))).toStrictEqual({code: 299, reboot: 1});
        await expect.poll(() => tcpCam.connectCount, {timeout: 5000}).toBe(connects + 1);
    });

    it("flip goes out as a TCP 301 forward with code 216", async () => {
        const since = ha.mark();
        await ha.publish(`v720/${TCP_CAM}/flip/set`, "flipped");
        await expect.poll(() => forwards.at(-1)).toStrictEqual({id: TCP_CAM, content: {code: 216, mirrorFlip: 4}});
        await ha.nextJson(`v720/${TCP_CAM}/state`, (state) => state["flip"] === "flipped", since);
        expect(handle.states.get(TCP_CAM)?.flip).toBe(4);
    });

    it("take snapshot wakes the stream and publishes the JPEG retained", async () => {
        const since = ha.mark();
        const subscribed = directory.subscribeCount;
        await ha.publish(`v720/${TCP_CAM}/take_snapshot/set`, "PRESS");
        await expect.poll(() => directory.subscribeCount).toBe(subscribed + 1);
        const jpeg = Buffer.from([0xff, 0xd8, 1, 2, 3, 0xff, 0xd9]);
        directory.pushFrame(TCP_CAM, jpeg, 1);
        const message = await ha.next(`v720/${TCP_CAM}/snapshot`, () => true, since);
        expect(message.payload.equals(jpeg)).toBe(true);
        expect((await readRetained(url, `v720/${TCP_CAM}/snapshot`)).get(`v720/${TCP_CAM}/snapshot`)).toStrictEqual(
            jpeg,
        );
        expect(directory.liveConsumers(TCP_CAM)).toBe(0);
    });

    it("the live stream switch keeps one consumer open while on", async () => {
        const since = ha.mark();
        await ha.publish(`v720/${TCP_CAM}/live_stream/set`, "ON");
        await ha.nextJson(`v720/${TCP_CAM}/state`, (state) => state["live_stream"] === "ON", since);
        expect(directory.liveConsumers(TCP_CAM)).toBe(1);
        await ha.publish(`v720/${TCP_CAM}/live_stream/set`, "OFF");
        await ha.nextJson(`v720/${TCP_CAM}/state`, (state) => state["live_stream"] === "OFF", since);
        expect(directory.liveConsumers(TCP_CAM)).toBe(0);
    });

    it("a motion report turns the motion sensor on, publishes a snapshot and clears after the hold time", async () => {
        const since = ha.mark();
        directory.frames.delete(TCP_CAM); // no fresh frame: the snapshot must wake the stream
        const subscribed = directory.subscribeCount;
        tcpEvents?.({type: "motion", id: TCP_CAM});
        await ha.nextJson(`v720/${TCP_CAM}/state`, (state) => state["motion"] === "ON", since);
        await expect.poll(() => directory.subscribeCount).toBe(subscribed + 1);
        const jpeg = Buffer.from([0xff, 0xd8, 9, 9, 9, 0xff, 0xd9]);
        directory.pushFrame(TCP_CAM, jpeg, 2);
        const message = await ha.next(`v720/${TCP_CAM}/snapshot`, (text) => text.includes("\t"), since);
        expect(message.payload.equals(jpeg)).toBe(true);
        await ha.nextJson(`v720/${TCP_CAM}/state`, (state) => state["motion"] === "OFF", since);
    });

    it("rejects invalid commands without forwarding them", async () => {
        const before = mqttCam.receivedCommands.length;
        await ha.publish(`v720/${MQTT_CAM}/ir_led/set`, "MAYBE");
        await ha.publish(`v720/${MQTT_CAM}/motion_sensitivity/set`, "9");
        await ha.publish(`v720/${MQTT_CAM}/flip/set`, "flipped"); // no TCP path: entity not offered
        await ha.publish(`v720/${MQTT_CAM}/unknown/set`, "ON");
        // A valid command afterwards is the fence: commands are handled in order.
        await ha.publish(`v720/${MQTT_CAM}/status_led/set`, "ON");
        await expect.poll(() => mqttCam.receivedCommands.length).toBe(before + 1);
        expect(mqttCam.receivedCommands.at(-1)).toStrictEqual({code: 210, instLed: 1});
    });

    it("shows the command optimistically and reverts when the camera does not confirm", async () => {
        mqttCam.respondToCommands = false;
        try {
            const since = ha.mark();
            await ha.publish(`v720/${MQTT_CAM}/ir_led/set`, "ON");
            await ha.nextJson(`v720/${MQTT_CAM}/state`, (state) => state["ir_led"] === "ON", since);
            const afterOptimistic = ha.mark();
            await ha.nextJson(`v720/${MQTT_CAM}/state`, (state) => state["ir_led"] === "OFF", afterOptimistic);
            expect(handle.states.get(MQTT_CAM)?.irLed).toBe(0);
        } finally {
            mqttCam.respondToCommands = true;
        }
    });

    it("an HA birth message makes the bridge re-publish discovery", async () => {
        const topic = `homeassistant/device/${MQTT_CAM}/config`;
        await ha.publish(topic, "", {retain: true}); // as if the broker had lost it
        await expect.poll(async () => (await readRetained(url, topic)).has(topic)).toBe(false);
        await ha.publish("homeassistant/status", "online");
        await expect.poll(async () => (await readRetained(url, topic)).has(topic)).toBe(true);
    });

    it("power-off (Status 0) marks the camera unavailable; it comes back when powered on", async () => {
        let since = ha.mark();
        await mqttCam.powerOff();
        await ha.next(`v720/${MQTT_CAM}/availability`, (text) => text === "offline", since);
        expect(handle.states.get(MQTT_CAM)?.online).toBe(false);
        since = ha.mark();
        await mqttCam.start();
        await ha.next(`v720/${MQTT_CAM}/availability`, (text) => text === "online", since);
    });

    it("the will (unclean drop) marks the camera unavailable", async () => {
        const crashCam = new MqttDevice({url, deviceId: CRASH_CAM, infoDelayMs: 0});
        await crashCam.start();
        await ha.next(`v720/${CRASH_CAM}/availability`, (text) => text === "online");
        const since = ha.mark();
        await crashCam.crash();
        const will = await ha.next("Naxclow/P2P/Users/Device/Status", (text) => text.includes(CRASH_CAM), since);
        expect(will.payload.toString("utf8")).toBe(`{"device":"${CRASH_CAM}","token":"NAXCLOW","status": 0}`);
        await ha.next(`v720/${CRASH_CAM}/availability`, (text) => text === "offline", since);
    });

    it("a camera with a TCP session stays available without MQTT (decisions.md 9)", async () => {
        directory.update(TCP_CAM, {online: true});
        await tcpCam.powerOff();
        await expect.poll(() => handle.states.get(TCP_CAM)?.mqttOnline).toBe(false);
        expect(handle.states.get(TCP_CAM)?.online).toBe(true);
        const since = ha.mark();
        directory.update(TCP_CAM, {online: false});
        await ha.next(`v720/${TCP_CAM}/availability`, (text) => text === "offline", since);
    });

    it("forget clears the camera's retained discovery, availability and state", async () => {
        await handle.forget(CRASH_CAM);
        const retained = await readRetained(url, "#");
        expect([...retained.keys()].filter((topic) => topic.includes(CRASH_CAM))).toStrictEqual([]);
        expect(retained.has(`homeassistant/device/${MQTT_CAM}/config`)).toBe(true);
        expect(handle.states.get(CRASH_CAM)).toBeUndefined();
    });
});

describe("periodic snapshots", () => {
    it("publishes the newest frame every snapshot_interval_s", async () => {
        const directory = new FakeDirectory();
        directory.addCamera(TCP_CAM);
        const handle = await startMqtt(
            {
                mqtt: mqttConfig({snapshotIntervalS: 1}),
                version: "0.1.0-test",
                timings: {...FAST_TIMINGS, snapshotMaxAgeMs: 10_000},
            },
            {directory, sendForward: () => true},
            silentLogger,
        );
        const url = `mqtt://127.0.0.1:${handle.brokerPort}`;
        const ha = await TestMqttClient.connect(url);
        try {
            await ha.subscribe(`v720/${TCP_CAM}/snapshot`);
            await expect.poll(() => handle.states.get(TCP_CAM)?.online).toBe(true);
            const first = Buffer.from([0xff, 0xd8, 1, 0xff, 0xd9]);
            directory.pushFrame(TCP_CAM, first, 1);
            const message = await ha.next(`v720/${TCP_CAM}/snapshot`, () => true, 0, 3000);
            expect(message.payload.equals(first)).toBe(true);
            expect(directory.subscribeCount).toBe(0); // a fresh frame needs no wake-up
        } finally {
            await ha.end();
            await handle.stop();
        }
    });
});
