/**
 * Home Assistant MQTT discovery payloads (home-assistant-notes.md §1, §5.1). Pure: a typed entity
 * table plus builders. Ids are permanent (decisions.md 8): device `v720_<id>`, unique_id
 * `v720_<id>_<entity key>`, bridge device `v720_bridge_<base>`. Never `object_id` (it stops working in
 * HA 2026.4). Full key names, except `cmps` (the name for device-discovery components).
 */
import type {CameraState} from "../model/cameraState.js";
import {assertNever} from "../util/assertNever.js";
import {
    availabilityTopic,
    BRIDGE_NODE,
    bridgeDeviceId,
    bridgeDiscoveryNode,
    bridgeInfoTopic,
    bridgeStateTopic,
    bridgeUniqueId,
    cameraDeviceId,
    cameraUniqueId,
    commandTopic,
    componentDiscoveryTopic,
    deviceDiscoveryTopic,
    snapshotTopic,
    stateTopic,
} from "./topics.js";

export type DiscoveryMode = "device" | "component";
export type Platform = "camera" | "binary_sensor" | "switch" | "select" | "number" | "button" | "sensor";

export interface DiscoveryContext {
    readonly baseTopic: string;
    readonly discoveryPrefix: string;
    readonly mode: DiscoveryMode;
    /** Bridge version for `origin.sw_version` and the bridge device. */
    readonly version: string;
    readonly supportUrl?: string | undefined;
}

export interface DiscoveryMessage {
    readonly topic: string;
    readonly payload: Readonly<Record<string, unknown>>;
}

/** What a camera entity needs from the camera before it is published (decisions.md 10). */
export type Requirement = "flip" | "motionSensitivity" | "pirSensitivity" | "tcp" | "errStatus";

export interface EntitySpec {
    /** Permanent key: part of unique_id and of the command topic. */
    readonly key: string;
    readonly platform: Platform;
    /** Key in the `<base>/<id>/state` JSON the entity reads; none for buttons and the camera. */
    readonly stateKey?: string;
    readonly hasCommand?: boolean;
    readonly requires?: Requirement;
    /** Bridge-only availability (entities that stay useful while the camera is away). */
    readonly bridgeAvailabilityOnly?: boolean;
    /** Static HA keys: name, icon, device_class, entity_category, ... */
    readonly config: Readonly<Record<string, unknown>>;
}

/** Options of the flip select, index = `mirrorFlip` value (0 normal, 4 flipped; 1..3 undocumented). */
export const FLIP_OPTIONS = ["normal", "mode 1", "mode 2", "mode 3", "flipped"] as const;

/** Number entities: undocumented grade ranges are 0..5 (decisions.md 10). */
export const GRADE_MIN = 0;
export const GRADE_MAX = 5;

export const CAMERA_ENTITIES: readonly EntitySpec[] = [
    {key: "camera", platform: "camera", config: {name: null}},
    {
        key: "motion",
        platform: "binary_sensor",
        stateKey: "motion",
        config: {name: "Motion", device_class: "motion", payload_on: "ON", payload_off: "OFF"},
    },
    {
        key: "live_stream",
        platform: "switch",
        stateKey: "live_stream",
        hasCommand: true,
        requires: "tcp",
        config: {name: "Live stream", icon: "mdi:video"},
    },
    {
        key: "ir_led",
        platform: "switch",
        stateKey: "ir_led",
        hasCommand: true,
        config: {name: "Night mode (IR)", icon: "mdi:weather-night"},
    },
    {
        key: "status_led",
        platform: "switch",
        stateKey: "status_led",
        hasCommand: true,
        config: {name: "Status LED", icon: "mdi:led-on", entity_category: "config"},
    },
    {
        key: "sd_recording",
        platform: "switch",
        stateKey: "sd_recording",
        hasCommand: true,
        config: {name: "SD recording", icon: "mdi:record-rec", entity_category: "config"},
    },
    {
        key: "motion_alert",
        platform: "switch",
        stateKey: "motion_alert",
        hasCommand: true,
        config: {name: "Motion alert", icon: "mdi:motion-sensor", entity_category: "config"},
    },
    {
        key: "record_on_motion",
        platform: "switch",
        stateKey: "record_on_motion",
        hasCommand: true,
        config: {name: "Record on motion", icon: "mdi:motion-play", entity_category: "config"},
    },
    {
        key: "flip",
        platform: "select",
        stateKey: "flip",
        hasCommand: true,
        requires: "flip",
        config: {name: "Image flip", icon: "mdi:flip-vertical", entity_category: "config", options: [...FLIP_OPTIONS]},
    },
    {
        key: "motion_sensitivity",
        platform: "number",
        stateKey: "motion_sensitivity",
        hasCommand: true,
        requires: "motionSensitivity",
        config: {
            name: "Motion sensitivity",
            icon: "mdi:motion-sensor",
            entity_category: "config",
            min: GRADE_MIN,
            max: GRADE_MAX,
            step: 1,
            mode: "slider",
        },
    },
    {
        key: "pir_sensitivity",
        platform: "number",
        stateKey: "pir_sensitivity",
        hasCommand: true,
        requires: "pirSensitivity",
        config: {
            name: "PIR sensitivity",
            icon: "mdi:motion-sensor",
            entity_category: "config",
            min: GRADE_MIN,
            max: GRADE_MAX,
            step: 1,
            mode: "slider",
        },
    },
    {
        key: "reboot",
        platform: "button",
        hasCommand: true,
        config: {name: "Reboot", device_class: "restart", entity_category: "config"},
    },
    {
        key: "take_snapshot",
        platform: "button",
        hasCommand: true,
        requires: "tcp",
        config: {name: "Take snapshot", icon: "mdi:camera"},
    },
    {
        key: "wifi_scan",
        platform: "button",
        hasCommand: true,
        config: {name: "Wi-Fi scan", icon: "mdi:wifi-refresh", entity_category: "config"},
    },
    {
        key: "format_sd",
        platform: "button",
        hasCommand: true,
        config: {name: "Format SD card", icon: "mdi:sd", entity_category: "config", enabled_by_default: false},
    },
    {
        key: "battery",
        platform: "sensor",
        stateKey: "battery",
        config: {
            name: "Battery",
            device_class: "battery",
            unit_of_measurement: "%",
            state_class: "measurement",
            entity_category: "diagnostic",
        },
    },
    {
        key: "sd_free",
        platform: "sensor",
        stateKey: "sd_free",
        config: {
            name: "SD free",
            icon: "mdi:sd",
            device_class: "data_size",
            unit_of_measurement: "MB",
            state_class: "measurement",
            suggested_display_precision: 0,
            entity_category: "diagnostic",
        },
    },
    {
        key: "sd_capacity",
        platform: "sensor",
        stateKey: "sd_capacity",
        config: {
            name: "SD capacity",
            icon: "mdi:sd",
            device_class: "data_size",
            unit_of_measurement: "MB",
            suggested_display_precision: 0,
            entity_category: "diagnostic",
        },
    },
    {
        key: "wifi_name",
        platform: "sensor",
        stateKey: "wifi_name",
        config: {name: "Wi-Fi network", icon: "mdi:wifi", entity_category: "diagnostic"},
    },
    {
        key: "wifi_networks",
        platform: "sensor",
        stateKey: "wifi_networks",
        config: {
            name: "Wi-Fi networks found",
            icon: "mdi:wifi-settings",
            state_class: "measurement",
            entity_category: "diagnostic",
        },
    },
    {
        key: "firmware",
        platform: "sensor",
        stateKey: "firmware",
        config: {name: "Firmware", icon: "mdi:chip", entity_category: "diagnostic"},
    },
    {
        // Info `errStatus` after a wake: 1 too many viewers, 2 could not connect [GUESS] (new-firmware-notes.md §3.1)
        key: "err_status",
        platform: "sensor",
        stateKey: "err_status",
        requires: "errStatus",
        config: {name: "Camera error status", icon: "mdi:alert-circle-outline", entity_category: "diagnostic"},
    },
    {
        key: "last_seen",
        platform: "sensor",
        stateKey: "last_seen",
        bridgeAvailabilityOnly: true,
        config: {name: "Last seen", device_class: "timestamp", entity_category: "diagnostic"},
    },
];

export const BRIDGE_ENTITIES: readonly EntitySpec[] = [
    {
        key: "version",
        platform: "sensor",
        stateKey: "version",
        config: {name: "Version", icon: "mdi:tag", entity_category: "diagnostic"},
    },
    {
        key: "cameras_online",
        platform: "sensor",
        stateKey: "cameras_online",
        config: {name: "Cameras online", icon: "mdi:cctv", state_class: "measurement"},
    },
    {
        key: "republish",
        platform: "button",
        hasCommand: true,
        config: {name: "Re-publish discovery", icon: "mdi:refresh", entity_category: "config"},
    },
];

export const cameraEntity = (key: string): EntitySpec | undefined => CAMERA_ENTITIES.find((e) => e.key === key);
export const bridgeEntity = (key: string): EntitySpec | undefined => BRIDGE_ENTITIES.find((e) => e.key === key);

/** Whether the camera has reported what `requirement` needs (decisions.md 10). */
export function meetsRequirement(state: CameraState, requirement: Requirement | undefined): boolean {
    switch (requirement) {
        case undefined:
            return true;
        case "tcp":
            // MQTT-first cameras have no TCP session until woken, and a viewer wakes them (issue 6 item 3).
            return state.tcpKnown || state.wakesOnDemand;
        case "flip":
            // 216 is a TCP forward: needs the field (from code 4) and a TCP path.
            return state.tcpKnown && state.flip !== null;
        case "motionSensitivity":
            return state.motionSensitivity !== null;
        case "pirSensitivity":
            return state.pirSensitivity !== null;
        case "errStatus":
            return state.errStatus !== null;
        default:
            return assertNever(requirement);
    }
}

/** The entities published for this camera right now. */
export const cameraEntitiesFor = (state: CameraState): EntitySpec[] =>
    CAMERA_ENTITIES.filter((entity) => meetsRequirement(state, entity.requires));

export interface CameraDeviceExtras {
    /** Web UI page for this camera (http/https), or null. */
    readonly configurationUrl: string | null;
}

/** Discovery for one camera: one device message, or one message per entity in `component` mode. */
export function buildCameraDiscovery(
    state: CameraState,
    context: DiscoveryContext,
    extras: CameraDeviceExtras = {configurationUrl: null},
): DiscoveryMessage[] {
    const base = context.baseTopic;
    const availability = [{topic: bridgeStateTopic(base)}, {topic: availabilityTopic(base, state.id)}];
    const device: Record<string, unknown> = {
        identifiers: [cameraDeviceId(state.id)],
        name: state.name ?? `V720 ${state.id}`,
        manufacturer: "Naxclow",
        model: deviceModel(state),
        serial_number: state.id,
        via_device: bridgeDeviceId(base),
    };
    if (state.firmware !== null) {
        device["sw_version"] = state.firmware;
    }
    if (state.area !== null) {
        device["suggested_area"] = state.area;
    }
    if (extras.configurationUrl !== null) {
        device["configuration_url"] = extras.configurationUrl;
    }
    const components: Record<string, Record<string, unknown>> = {};
    for (const entity of cameraEntitiesFor(state)) {
        const component = cameraComponent(entity, state.id, base);
        if (entity.bridgeAvailabilityOnly === true) {
            component["availability"] = [{topic: bridgeStateTopic(base)}];
        }
        components[entity.key] = component;
    }
    return assemble(context, state.id, device, availability, components);
}

/** The vendor app's model name for the id prefix, with the family when it is MQTT-first ("P3 (MQTT-first)"). */
export function deviceModel(state: Pick<CameraState, "model" | "family">): string {
    const model = state.model ?? DEFAULT_MODEL;
    return state.family === "mqtt-first" ? `${model} (MQTT-first)` : model;
}

const DEFAULT_MODEL = "A9 / V720 mini camera";

/** Discovery for the bridge device (version, cameras online, re-publish button). */
export function buildBridgeDiscovery(context: DiscoveryContext): DiscoveryMessage[] {
    const base = context.baseTopic;
    const device = {
        identifiers: [bridgeDeviceId(base)],
        name: base === "v720" ? "V720 bridge" : `V720 bridge (${base})`,
        manufacturer: "v720-bridge",
        model: "v720-bridge",
        sw_version: context.version,
    };
    const components: Record<string, Record<string, unknown>> = {};
    for (const entity of BRIDGE_ENTITIES) {
        const component: Record<string, unknown> = {
            platform: entity.platform,
            unique_id: bridgeUniqueId(base, entity.key),
            ...entity.config,
        };
        if (entity.stateKey !== undefined) {
            component["state_topic"] = bridgeInfoTopic(base);
            component["value_template"] = `{{ value_json.${entity.stateKey} }}`;
        }
        if (entity.hasCommand === true) {
            component["command_topic"] = commandTopic(base, BRIDGE_NODE, entity.key);
        }
        components[entity.key] = component;
    }
    return assemble(context, bridgeDiscoveryNode(base), device, [{topic: bridgeStateTopic(base)}], components);
}

/**
 * Every discovery topic this camera could have in either mode (cleared with empty retained
 * payloads on forget, so a camera disappears whatever mode published it).
 */
export function cameraDiscoveryTopics(id: string, context: Omit<DiscoveryContext, "mode" | "version">): string[] {
    const topics = [deviceDiscoveryTopic(context.discoveryPrefix, id)];
    for (const entity of CAMERA_ENTITIES) {
        topics.push(componentDiscoveryTopic(context.discoveryPrefix, entity.platform, id, entity.key));
    }
    return topics;
}

function cameraComponent(entity: EntitySpec, id: string, base: string): Record<string, unknown> {
    const component: Record<string, unknown> = {
        platform: entity.platform,
        unique_id: cameraUniqueId(id, entity.key),
        ...entity.config,
    };
    if (entity.platform === "camera") {
        component["topic"] = snapshotTopic(base, id);
        component["json_attributes_topic"] = stateTopic(base, id);
        component["json_attributes_template"] = "{{ value_json.urls | tojson }}";
        return component;
    }
    if (entity.stateKey !== undefined) {
        component["state_topic"] = stateTopic(base, id);
        component["value_template"] = `{{ value_json.${entity.stateKey} }}`;
    }
    if (entity.key === "wifi_networks") {
        component["json_attributes_topic"] = stateTopic(base, id);
        component["json_attributes_template"] = "{{ {'networks': value_json.wifi_scan} | tojson }}";
    }
    if (entity.hasCommand === true) {
        component["command_topic"] = commandTopic(base, id, entity.key);
    }
    return component;
}

function assemble(
    context: DiscoveryContext,
    node: string,
    device: Record<string, unknown>,
    availability: readonly {topic: string}[],
    components: Record<string, Record<string, unknown>>,
): DiscoveryMessage[] {
    const origin: Record<string, unknown> = {name: "v720-bridge", sw_version: context.version};
    if (context.supportUrl !== undefined) {
        origin["support_url"] = context.supportUrl;
    }
    if (context.mode === "device") {
        return [
            {
                topic: deviceDiscoveryTopic(context.discoveryPrefix, node),
                payload: {
                    device,
                    origin,
                    availability,
                    availability_mode: "all",
                    qos: 1,
                    cmps: components,
                },
            },
        ];
    }
    const messages: DiscoveryMessage[] = [];
    for (const [key, component] of Object.entries(components)) {
        const {platform, ...rest} = component;
        messages.push({
            topic: componentDiscoveryTopic(context.discoveryPrefix, String(platform), node, key),
            payload: {
                ...rest,
                device,
                origin,
                availability: rest["availability"] ?? availability,
                availability_mode: "all",
                qos: 1,
            },
        });
    }
    return messages;
}
