import {describe, expect, it} from "vitest";
import {
    buildBridgeDiscovery,
    buildCameraDiscovery,
    CAMERA_ENTITIES,
    cameraDiscoveryTopics,
    type DiscoveryContext,
    type DiscoveryMessage,
} from "../../../src/bridge/discovery.js";
import {type CameraState, emptyCameraState} from "../../../src/model/cameraState.js";
import {checkDiscovery} from "../../support/haDiscoveryRules.js";

const context: DiscoveryContext = {
    baseTopic: "v720",
    discoveryPrefix: "homeassistant",
    mode: "device",
    version: "0.1.0",
};

const ID = "0800c00128F8";
const AVAILABILITY = [{topic: "v720/bridge/state"}, {topic: "v720/0800c00128F8/availability"}];
const STATE_TOPIC = "v720/0800c00128F8/state";
const DEVICE = {
    identifiers: ["v720_0800c00128F8"],
    name: "Kitchen",
    manufacturer: "Naxclow",
    model: "A9 / V720 mini camera",
    serial_number: ID,
    via_device: "v720_bridge_v720",
    sw_version: "202212011602",
    suggested_area: "Kitchen",
    configuration_url: "http://192.168.1.10:8099/cameras/0800c00128F8",
};
const ORIGIN = {name: "v720-bridge", sw_version: "0.1.0"};

/** A classic camera with a TCP session and code 4 base info (flip known), no grades. */
const classic: CameraState = {
    ...emptyCameraState(ID),
    name: "Kitchen",
    area: "Kitchen",
    online: true,
    tcpOnline: true,
    tcpKnown: true,
    mqttOnline: true,
    firmware: "202212011602",
    flip: 0,
};

const sensor = (key: string, extra: Record<string, unknown>) => ({
    platform: "sensor",
    unique_id: `v720_${ID}_${key}`,
    ...extra,
    state_topic: STATE_TOPIC,
    value_template: `{{ value_json.${key} }}`,
});

const switchEntity = (key: string, extra: Record<string, unknown>) => ({
    platform: "switch",
    unique_id: `v720_${ID}_${key}`,
    ...extra,
    state_topic: STATE_TOPIC,
    value_template: `{{ value_json.${key} }}`,
    command_topic: `v720/${ID}/${key}/set`,
});

const button = (key: string, extra: Record<string, unknown>) => ({
    platform: "button",
    unique_id: `v720_${ID}_${key}`,
    ...extra,
    command_topic: `v720/${ID}/${key}/set`,
});

describe("buildCameraDiscovery (device mode)", () => {
    it("builds the whole device payload of a classic camera", () => {
        const messages = buildCameraDiscovery(classic, context, {configurationUrl: DEVICE.configuration_url});
        expect(messages).toStrictEqual([
            {
                topic: "homeassistant/device/0800c00128F8/config",
                payload: {
                    device: DEVICE,
                    origin: ORIGIN,
                    availability: AVAILABILITY,
                    availability_mode: "all",
                    qos: 1,
                    cmps: {
                        camera: {
                            platform: "camera",
                            unique_id: "v720_0800c00128F8_camera",
                            name: null,
                            topic: "v720/0800c00128F8/snapshot",
                            json_attributes_topic: STATE_TOPIC,
                            json_attributes_template: "{{ value_json.urls | tojson }}",
                        },
                        motion: {
                            platform: "binary_sensor",
                            unique_id: "v720_0800c00128F8_motion",
                            name: "Motion",
                            device_class: "motion",
                            payload_on: "ON",
                            payload_off: "OFF",
                            state_topic: STATE_TOPIC,
                            value_template: "{{ value_json.motion }}",
                        },
                        live_stream: switchEntity("live_stream", {name: "Live stream", icon: "mdi:video"}),
                        ir_led: switchEntity("ir_led", {name: "Night mode (IR)", icon: "mdi:weather-night"}),
                        status_led: switchEntity("status_led", {
                            name: "Status LED",
                            icon: "mdi:led-on",
                            entity_category: "config",
                        }),
                        sd_recording: switchEntity("sd_recording", {
                            name: "SD recording",
                            icon: "mdi:record-rec",
                            entity_category: "config",
                        }),
                        motion_alert: switchEntity("motion_alert", {
                            name: "Motion alert",
                            icon: "mdi:motion-sensor",
                            entity_category: "config",
                        }),
                        record_on_motion: switchEntity("record_on_motion", {
                            name: "Record on motion",
                            icon: "mdi:motion-play",
                            entity_category: "config",
                        }),
                        flip: {
                            platform: "select",
                            unique_id: "v720_0800c00128F8_flip",
                            name: "Image flip",
                            icon: "mdi:flip-vertical",
                            entity_category: "config",
                            options: ["normal", "mode 1", "mode 2", "mode 3", "flipped"],
                            state_topic: STATE_TOPIC,
                            value_template: "{{ value_json.flip }}",
                            command_topic: "v720/0800c00128F8/flip/set",
                        },
                        reboot: button("reboot", {name: "Reboot", device_class: "restart", entity_category: "config"}),
                        take_snapshot: button("take_snapshot", {name: "Take snapshot", icon: "mdi:camera"}),
                        wifi_scan: button("wifi_scan", {
                            name: "Wi-Fi scan",
                            icon: "mdi:wifi-refresh",
                            entity_category: "config",
                        }),
                        format_sd: button("format_sd", {
                            name: "Format SD card",
                            icon: "mdi:sd",
                            entity_category: "config",
                            enabled_by_default: false,
                        }),
                        battery: sensor("battery", {
                            name: "Battery",
                            device_class: "battery",
                            unit_of_measurement: "%",
                            state_class: "measurement",
                            entity_category: "diagnostic",
                        }),
                        sd_free: sensor("sd_free", {
                            name: "SD free",
                            icon: "mdi:sd",
                            device_class: "data_size",
                            unit_of_measurement: "MB",
                            state_class: "measurement",
                            suggested_display_precision: 0,
                            entity_category: "diagnostic",
                        }),
                        sd_capacity: sensor("sd_capacity", {
                            name: "SD capacity",
                            icon: "mdi:sd",
                            device_class: "data_size",
                            unit_of_measurement: "MB",
                            suggested_display_precision: 0,
                            entity_category: "diagnostic",
                        }),
                        wifi_name: sensor("wifi_name", {
                            name: "Wi-Fi network",
                            icon: "mdi:wifi",
                            entity_category: "diagnostic",
                        }),
                        wifi_networks: {
                            ...sensor("wifi_networks", {
                                name: "Wi-Fi networks found",
                                icon: "mdi:wifi-settings",
                                state_class: "measurement",
                                entity_category: "diagnostic",
                            }),
                            json_attributes_topic: STATE_TOPIC,
                            json_attributes_template: "{{ {'networks': value_json.wifi_scan} | tojson }}",
                        },
                        firmware: sensor("firmware", {
                            name: "Firmware",
                            icon: "mdi:chip",
                            entity_category: "diagnostic",
                        }),
                        last_seen: {
                            ...sensor("last_seen", {
                                name: "Last seen",
                                device_class: "timestamp",
                                entity_category: "diagnostic",
                            }),
                            availability: [{topic: "v720/bridge/state"}],
                        },
                    },
                },
            },
        ]);
    });

    it("offers grades only when the camera reported them and TCP entities only with a TCP path (decisions.md 10)", () => {
        const mqttOnly = {...emptyCameraState(ID), mqttOnline: true, online: true};
        const keys = (state: CameraState) =>
            Object.keys((buildCameraDiscovery(state, context)[0]?.payload["cmps"] ?? {}) as object);
        const base = keys(mqttOnly);
        expect(base).not.toContain("flip");
        expect(base).not.toContain("live_stream");
        expect(base).not.toContain("take_snapshot");
        expect(base).not.toContain("motion_sensitivity");
        expect(base).not.toContain("pir_sensitivity");
        expect(base).toContain("ir_led");
        const pir = keys({...mqttOnly, motionSensitivity: 2, pirSensitivity: 3});
        expect(pir).toContain("motion_sensitivity");
        expect(pir).toContain("pir_sensitivity");
        // flip needs both the reported field and the TCP path
        expect(keys({...mqttOnly, flip: 0})).not.toContain("flip");
        expect(keys({...mqttOnly, tcpKnown: true})).not.toContain("flip");
    });

    it("builds a number entity with the 0..5 grade range", () => {
        const [message] = buildCameraDiscovery({...classic, pirSensitivity: 1}, context);
        const cmps = (message === undefined ? {} : message.payload["cmps"]) as Record<string, unknown>;
        expect(cmps["pir_sensitivity"]).toStrictEqual({
            platform: "number",
            unique_id: "v720_0800c00128F8_pir_sensitivity",
            name: "PIR sensitivity",
            icon: "mdi:motion-sensor",
            entity_category: "config",
            min: 0,
            max: 5,
            step: 1,
            mode: "slider",
            state_topic: STATE_TOPIC,
            value_template: "{{ value_json.pir_sensitivity }}",
            command_topic: "v720/0800c00128F8/pir_sensitivity/set",
        });
    });

    it("uses a default name and leaves out unknown device fields", () => {
        const payload = buildCameraDiscovery(emptyCameraState(ID), context)[0]?.payload;
        expect(payload?.["device"]).toStrictEqual({
            identifiers: ["v720_0800c00128F8"],
            name: "V720 0800c00128F8",
            manufacturer: "Naxclow",
            model: "A9 / V720 mini camera",
            serial_number: ID,
            via_device: "v720_bridge_v720",
        });
    });
});

describe("buildCameraDiscovery of an MQTT-first camera (issue 6 items 2, 3)", () => {
    const sleeping: CameraState = {
        ...emptyCameraState("5c00200204AB"),
        online: true,
        mqttOnline: true,
        family: "mqtt-first",
        model: "CloudIpc",
        wakesOnDemand: true,
        firmware: "202411152039",
    };

    it("names the model with its family and the firmware in the device info", () => {
        const device = buildCameraDiscovery(sleeping, context)[0]?.payload["device"];
        expect(device).toMatchObject({model: "CloudIpc (MQTT-first)", sw_version: "202411152039"});
        const a9 = buildCameraDiscovery({...classic, model: "A9-4"}, context)[0]?.payload["device"];
        expect(a9).toMatchObject({model: "A9-4", sw_version: "202212011602"});
    });

    it("offers the live-stream switch and snapshot button before its first TCP session (a viewer wakes it)", () => {
        const cmps = (buildCameraDiscovery(sleeping, context)[0]?.payload["cmps"] ?? {}) as Record<string, unknown>;
        expect(Object.keys(cmps)).toEqual(expect.arrayContaining(["live_stream", "take_snapshot"]));
        expect(Object.keys(cmps)).not.toContain("err_status");
        expect(Object.keys(cmps)).not.toContain("flip");
    });

    it("adds the errStatus diagnostic sensor once the camera has reported one", () => {
        const cmps = (buildCameraDiscovery({...sleeping, errStatus: 0}, context)[0]?.payload["cmps"] ?? {}) as Record<
            string,
            Record<string, unknown>
        >;
        expect(cmps["err_status"]).toStrictEqual({
            platform: "sensor",
            unique_id: "v720_5c00200204AB_err_status",
            name: "Camera error status",
            icon: "mdi:alert-circle-outline",
            entity_category: "diagnostic",
            state_topic: "v720/5c00200204AB/state",
            value_template: "{{ value_json.err_status }}",
        });
        expect(
            checkDiscovery(buildCameraDiscovery({...sleeping, errStatus: 2}, context), "homeassistant"),
        ).toStrictEqual([]);
    });
});

describe("buildCameraDiscovery (component mode)", () => {
    const componentContext: DiscoveryContext = {...context, mode: "component"};

    it("publishes one message per entity under <prefix>/<platform>/<id>/<entity>/config", () => {
        const messages = buildCameraDiscovery(classic, componentContext);
        expect(messages.map((m) => m.topic)).toContain("homeassistant/switch/0800c00128F8/ir_led/config");
        expect(messages.map((m) => m.topic)).toContain("homeassistant/camera/0800c00128F8/camera/config");
        const irLed = messages.find((m) => m.topic === "homeassistant/switch/0800c00128F8/ir_led/config");
        expect(irLed?.payload).toStrictEqual({
            unique_id: "v720_0800c00128F8_ir_led",
            name: "Night mode (IR)",
            icon: "mdi:weather-night",
            state_topic: STATE_TOPIC,
            value_template: "{{ value_json.ir_led }}",
            command_topic: "v720/0800c00128F8/ir_led/set",
            device: {
                identifiers: ["v720_0800c00128F8"],
                name: "Kitchen",
                manufacturer: "Naxclow",
                model: "A9 / V720 mini camera",
                serial_number: ID,
                via_device: "v720_bridge_v720",
                sw_version: "202212011602",
                suggested_area: "Kitchen",
            },
            origin: ORIGIN,
            availability: AVAILABILITY,
            availability_mode: "all",
            qos: 1,
        });
    });

    it("keeps the bridge-only availability of last_seen", () => {
        const lastSeen = buildCameraDiscovery(classic, componentContext).find((m) =>
            m.topic.endsWith("/last_seen/config"),
        );
        expect(lastSeen?.payload["availability"]).toStrictEqual([{topic: "v720/bridge/state"}]);
    });
});

describe("buildBridgeDiscovery", () => {
    it("builds the whole bridge device payload", () => {
        expect(buildBridgeDiscovery(context)).toStrictEqual([
            {
                topic: "homeassistant/device/v720_bridge_v720/config",
                payload: {
                    device: {
                        identifiers: ["v720_bridge_v720"],
                        name: "V720 bridge",
                        manufacturer: "v720-bridge",
                        model: "v720-bridge",
                        sw_version: "0.1.0",
                    },
                    origin: ORIGIN,
                    availability: [{topic: "v720/bridge/state"}],
                    availability_mode: "all",
                    qos: 1,
                    cmps: {
                        version: {
                            platform: "sensor",
                            unique_id: "v720_bridge_v720_version",
                            name: "Version",
                            icon: "mdi:tag",
                            entity_category: "diagnostic",
                            state_topic: "v720/bridge/info",
                            value_template: "{{ value_json.version }}",
                        },
                        cameras_online: {
                            platform: "sensor",
                            unique_id: "v720_bridge_v720_cameras_online",
                            name: "Cameras online",
                            icon: "mdi:cctv",
                            state_class: "measurement",
                            state_topic: "v720/bridge/info",
                            value_template: "{{ value_json.cameras_online }}",
                        },
                        republish: {
                            platform: "button",
                            unique_id: "v720_bridge_v720_republish",
                            name: "Re-publish discovery",
                            icon: "mdi:refresh",
                            entity_category: "config",
                            command_topic: "v720/bridge/republish/set",
                        },
                    },
                },
            },
        ]);
    });

    it("keeps ids of a second instance apart and sanitises its discovery topic", () => {
        const [message] = buildBridgeDiscovery({...context, baseTopic: "site/b"});
        expect(message?.topic).toBe("homeassistant/device/v720_bridge_site_b/config");
        expect(message?.payload["device"]).toMatchObject({identifiers: ["v720_bridge_site/b"]});
    });
});

describe("Home Assistant's rules", () => {
    const variants: CameraState[] = [
        emptyCameraState(ID),
        classic,
        {...classic, motionSensitivity: 3, pirSensitivity: 2, id: "56000b00054B"},
    ];

    it.each(["device", "component"] as const)("every %s-mode payload passes the rule checker", (mode) => {
        const ctx = {...context, mode};
        for (const state of variants) {
            const messages = [...buildBridgeDiscovery(ctx), ...buildCameraDiscovery(state, ctx)];
            expect(checkDiscovery(messages, "homeassistant")).toStrictEqual([]);
        }
    });

    it("keeps unique_ids unique across cameras and the bridge", () => {
        const messages = [
            ...buildBridgeDiscovery(context),
            ...variants.slice(1).flatMap((state) => buildCameraDiscovery(state, context)),
        ];
        expect(checkDiscovery(messages, "homeassistant")).toStrictEqual([]);
    });

    it("the checker catches the mistakes it claims to catch", () => {
        const [good] = buildCameraDiscovery(classic, context);
        if (good === undefined) {
            throw new Error("no message");
        }
        const cmps = good.payload["cmps"] as Record<string, Record<string, unknown>>;
        const broken = (change: (payload: Record<string, unknown>) => void): DiscoveryMessage => {
            const payload = structuredClone(good.payload) as Record<string, unknown>;
            change(payload);
            return {topic: good.topic, payload};
        };
        const component = (payload: Record<string, unknown>, key: string) =>
            (payload["cmps"] as Record<string, Record<string, unknown>>)[key] as Record<string, unknown>;
        const cases: [string, DiscoveryMessage[]][] = [
            ["origin", [broken((p) => delete p["origin"])]],
            ["device needs", [broken((p) => (p["device"] = {name: "x"}))]],
            ["unique_id is required", [broken((p) => delete component(p, "battery")["unique_id"])]],
            ["requires command_topic", [broken((p) => delete component(p, "ir_led")["command_topic"])]],
            ["device_class", [broken((p) => (component(p, "battery")["device_class"] = "batteries"))]],
            ["state_class", [broken((p) => (component(p, "battery")["state_class"] = "average"))]],
            ["entity_category", [broken((p) => (component(p, "battery")["entity_category"] = "system"))]],
            [
                "cannot have entity_category config",
                [broken((p) => (component(p, "battery")["entity_category"] = "config"))],
            ],
            ["unit", [broken((p) => (component(p, "battery")["unit_of_measurement"] = "V"))]],
            ["object_id", [broken((p) => (component(p, "battery")["object_id"] = "x"))]],
            ["not valid for switch", [broken((p) => (component(p, "ir_led")["payload_press"] = "x"))]],
            ["availability_mode", [broken((p) => (p["availability_mode"] = "every"))]],
            ["cannot be combined", [broken((p) => (p["availability_topic"] = "x"))]],
            [
                "configuration_url",
                [broken((p) => ((p["device"] as Record<string, unknown>)["configuration_url"] = "ftp://x"))],
            ],
            ["also used by", [good, {topic: "homeassistant/device/other/config", payload: good.payload}]],
            ["topic is not", [{topic: "homeassistant/device/config", payload: good.payload}]],
        ];
        expect(cmps["battery"]).toBeDefined();
        for (const [expected, messages] of cases) {
            const problems = checkDiscovery(messages, "homeassistant");
            expect(
                problems.some((problem) => problem.includes(expected)),
                `${expected}: ${problems.join("; ")}`,
            ).toBe(true);
        }
    });
});

describe("cameraDiscoveryTopics", () => {
    it("lists the device topic and every component-mode topic for clearing", () => {
        const topics = cameraDiscoveryTopics(ID, context);
        expect(topics[0]).toBe("homeassistant/device/0800c00128F8/config");
        expect(topics).toHaveLength(1 + CAMERA_ENTITIES.length);
        expect(topics).toContain("homeassistant/select/0800c00128F8/flip/config");
    });
});
