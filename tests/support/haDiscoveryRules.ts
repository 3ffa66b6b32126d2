/**
 * Home Assistant's documented rules for MQTT discovery payloads, as a checker for tests
 * (home-assistant-notes.md §1.1–1.7; HA docs: integrations/mqtt, <platform>.mqtt, sensor device classes).
 * Returns every problem found; an empty list means HA would accept the messages.
 *
 * Checked: topic shape and id characters; device discovery needs `device` + `origin` + components
 * with `platform` and `unique_id`; per-component mode needs `unique_id`, `device`, `origin`; keys known
 * to the platform (HA rejects unknown keys); required keys per platform; valid device_class,
 * state_class, entity_category and unit pairs; one availability form with a valid mode; device
 * identifiers or connections and an http(s)/homeassistant configuration_url; no `object_id`;
 * unique_ids unique across all messages.
 */

export interface DiscoveryLike {
    readonly topic: string;
    readonly payload: Readonly<Record<string, unknown>>;
}

const PLATFORMS = ["camera", "binary_sensor", "switch", "select", "number", "button", "sensor"] as const;
type Platform = (typeof PLATFORMS)[number];

const COMMON_KEYS = [
    "platform",
    "unique_id",
    "name",
    "icon",
    "entity_category",
    "enabled_by_default",
    "entity_picture",
    "availability",
    "availability_mode",
    "availability_topic",
    "availability_template",
    "payload_available",
    "payload_not_available",
    "device",
    "origin",
    "json_attributes_topic",
    "json_attributes_template",
    "qos",
    "encoding",
    "default_entity_id",
];

const PLATFORM_KEYS: Record<Platform, readonly string[]> = {
    camera: ["topic", "image_encoding"],
    binary_sensor: [
        "state_topic",
        "value_template",
        "device_class",
        "payload_on",
        "payload_off",
        "off_delay",
        "expire_after",
        "force_update",
    ],
    switch: [
        "command_topic",
        "command_template",
        "state_topic",
        "value_template",
        "payload_on",
        "payload_off",
        "state_on",
        "state_off",
        "optimistic",
        "retain",
        "device_class",
    ],
    select: ["command_topic", "command_template", "state_topic", "value_template", "options", "optimistic", "retain"],
    number: [
        "command_topic",
        "command_template",
        "state_topic",
        "value_template",
        "min",
        "max",
        "step",
        "mode",
        "unit_of_measurement",
        "device_class",
        "optimistic",
        "retain",
        "payload_reset",
    ],
    button: ["command_topic", "command_template", "payload_press", "device_class", "retain"],
    sensor: [
        "state_topic",
        "value_template",
        "device_class",
        "state_class",
        "unit_of_measurement",
        "suggested_display_precision",
        "expire_after",
        "force_update",
        "options",
        "last_reset_value_template",
    ],
};

const REQUIRED_KEYS: Record<Platform, readonly string[]> = {
    camera: ["topic"],
    binary_sensor: ["state_topic"],
    switch: ["command_topic"],
    select: ["command_topic", "options"],
    number: ["command_topic"],
    button: ["command_topic"],
    sensor: ["state_topic"],
};

/** Keys a device-discovery root may share with its components (HA docs, "Device discovery payload"). */
const ROOT_KEYS = [
    "device",
    "origin",
    "cmps",
    "components",
    "availability",
    "availability_mode",
    "availability_topic",
    "availability_template",
    "payload_available",
    "payload_not_available",
    "state_topic",
    "command_topic",
    "qos",
    "encoding",
];

const SENSOR_DEVICE_CLASSES = new Set([
    "apparent_power",
    "aqi",
    "area",
    "atmospheric_pressure",
    "battery",
    "blood_glucose_concentration",
    "carbon_dioxide",
    "carbon_monoxide",
    "conductivity",
    "current",
    "data_rate",
    "data_size",
    "date",
    "distance",
    "duration",
    "energy",
    "energy_distance",
    "energy_storage",
    "enum",
    "frequency",
    "gas",
    "humidity",
    "illuminance",
    "irradiance",
    "moisture",
    "monetary",
    "nitrogen_dioxide",
    "nitrogen_monoxide",
    "nitrous_oxide",
    "ozone",
    "ph",
    "pm1",
    "pm10",
    "pm25",
    "power",
    "power_factor",
    "precipitation",
    "precipitation_intensity",
    "pressure",
    "reactive_energy",
    "reactive_power",
    "signal_strength",
    "sound_pressure",
    "speed",
    "sulphur_dioxide",
    "temperature",
    "timestamp",
    "volatile_organic_compounds",
    "volatile_organic_compounds_parts",
    "voltage",
    "volume",
    "volume_flow_rate",
    "volume_storage",
    "water",
    "weight",
    "wind_direction",
    "wind_speed",
]);

const BINARY_SENSOR_DEVICE_CLASSES = new Set([
    "battery",
    "battery_charging",
    "carbon_monoxide",
    "cold",
    "connectivity",
    "door",
    "garage_door",
    "gas",
    "heat",
    "light",
    "lock",
    "moisture",
    "motion",
    "moving",
    "occupancy",
    "opening",
    "plug",
    "power",
    "presence",
    "problem",
    "running",
    "safety",
    "smoke",
    "sound",
    "tamper",
    "update",
    "vibration",
    "window",
]);

const DEVICE_CLASSES: Record<Platform, ReadonlySet<string>> = {
    camera: new Set(),
    binary_sensor: BINARY_SENSOR_DEVICE_CLASSES,
    switch: new Set(["outlet", "switch"]),
    select: new Set(),
    number: new Set([...SENSOR_DEVICE_CLASSES].filter((c) => !["date", "enum", "timestamp"].includes(c))),
    button: new Set(["identify", "restart", "update"]),
    sensor: SENSOR_DEVICE_CLASSES,
};

const STATE_CLASSES = new Set(["measurement", "measurement_angle", "total", "total_increasing"]);
const ENTITY_CATEGORIES = new Set(["config", "diagnostic"]);
const AVAILABILITY_MODES = new Set(["all", "any", "latest"]);
const DATA_SIZE_UNITS = new Set([
    "bit",
    "kbit",
    "Mbit",
    "Gbit",
    "B",
    "kB",
    "MB",
    "GB",
    "TB",
    "PB",
    "EB",
    "ZB",
    "YB",
    "KiB",
    "MiB",
    "GiB",
    "TiB",
    "PiB",
    "EiB",
    "ZiB",
    "YiB",
]);
/** Units HA accepts for some device classes (sensor docs). */
const UNITS: Record<string, ReadonlySet<string | undefined>> = {
    battery: new Set(["%"]),
    humidity: new Set(["%"]),
    data_size: DATA_SIZE_UNITS,
    signal_strength: new Set(["dB", "dBm"]),
    timestamp: new Set([undefined]),
    date: new Set([undefined]),
    enum: new Set([undefined]),
};

const ID_CHARS = /^[a-zA-Z0-9_-]+$/;

export function checkDiscovery(messages: readonly DiscoveryLike[], prefix: string): string[] {
    const problems: string[] = [];
    const uniqueIds = new Map<string, string>();
    for (const message of messages) {
        const where = message.topic;
        const parts = message.topic.split("/");
        if (parts[0] !== prefix || parts.at(-1) !== "config" || parts.length < 4 || parts.length > 5) {
            problems.push(`${where}: topic is not <prefix>/<component>/[<node_id>/]<object_id>/config`);
            continue;
        }
        for (const id of parts.slice(2, -1)) {
            if (!ID_CHARS.test(id)) {
                problems.push(`${where}: id "${id}" has characters outside [a-zA-Z0-9_-]`);
            }
        }
        const component = parts[1] ?? "";
        const payload = message.payload;
        if ("object_id" in payload) {
            problems.push(`${where}: object_id stops working in HA 2026.4`);
        }
        const root = {
            availability: payload["availability"],
            availability_topic: payload["availability_topic"],
            availability_mode: payload["availability_mode"],
            state_topic: payload["state_topic"],
            command_topic: payload["command_topic"],
        };
        if (component === "device") {
            for (const key of Object.keys(payload)) {
                if (!ROOT_KEYS.includes(key)) {
                    problems.push(`${where}: key "${key}" is not allowed at the device-discovery root`);
                }
            }
            checkDevice(payload["device"], where, problems);
            checkOrigin(payload["origin"], where, problems);
            checkAvailability(payload, where, problems);
            const components = payload["cmps"] ?? payload["components"];
            if (!isRecord(components) || Object.keys(components).length === 0) {
                problems.push(`${where}: device discovery needs a non-empty cmps`);
                continue;
            }
            for (const [key, value] of Object.entries(components)) {
                if (!ID_CHARS.test(key)) {
                    problems.push(`${where}: component id "${key}" has characters outside [a-zA-Z0-9_-]`);
                }
                if (!isRecord(value)) {
                    problems.push(`${where} ${key}: component is not an object`);
                    continue;
                }
                if ("device" in value || "origin" in value) {
                    problems.push(`${where} ${key}: components cannot override device or origin`);
                }
                if ("object_id" in value) {
                    problems.push(`${where} ${key}: object_id stops working in HA 2026.4`);
                }
                const platform = value["platform"] ?? value["p"];
                if (!isPlatform(platform)) {
                    problems.push(`${where} ${key}: unknown platform ${String(platform)}`);
                    continue;
                }
                checkAvailability(value, `${where} ${key}`, problems);
                checkEntity(platform, {...root, ...value}, value, `${where} ${key}`, problems, uniqueIds);
            }
        } else if (isPlatform(component)) {
            if (parts.length !== 5 && parts.length !== 4) {
                problems.push(`${where}: bad topic depth`);
            }
            if ("platform" in payload) {
                problems.push(`${where}: platform belongs to device discovery only`);
            }
            checkDevice(payload["device"], where, problems);
            checkOrigin(payload["origin"], where, problems);
            checkAvailability(payload, where, problems);
            const {origin: _origin, device: _device, ...entity} = payload;
            checkEntity(component, entity, entity, where, problems, uniqueIds);
        } else {
            problems.push(`${where}: unknown component ${component}`);
        }
    }
    return problems;
}

function checkEntity(
    platform: Platform,
    merged: Readonly<Record<string, unknown>>,
    own: Readonly<Record<string, unknown>>,
    where: string,
    problems: string[],
    uniqueIds: Map<string, string>,
): void {
    const allowed = new Set([...COMMON_KEYS, ...PLATFORM_KEYS[platform], "p"]);
    for (const key of Object.keys(own)) {
        if (!allowed.has(key)) {
            problems.push(`${where}: key "${key}" is not valid for ${platform}`);
        }
    }
    for (const key of REQUIRED_KEYS[platform]) {
        if (merged[key] === undefined) {
            problems.push(`${where}: ${platform} requires ${key}`);
        }
    }
    const uniqueId = own["unique_id"];
    if (typeof uniqueId !== "string" || uniqueId.length === 0) {
        problems.push(`${where}: unique_id is required`);
    } else if (uniqueIds.has(uniqueId)) {
        problems.push(`${where}: unique_id ${uniqueId} also used by ${uniqueIds.get(uniqueId)}`);
    } else {
        uniqueIds.set(uniqueId, where);
    }
    const name = own["name"];
    if (name !== undefined && name !== null && (typeof name !== "string" || name.length === 0)) {
        problems.push(`${where}: name must be a non-empty string or null`);
    }
    const category = own["entity_category"];
    if (category !== undefined && !ENTITY_CATEGORIES.has(String(category))) {
        problems.push(`${where}: entity_category ${String(category)} is invalid`);
    }
    if (category === "config" && (platform === "sensor" || platform === "binary_sensor")) {
        problems.push(`${where}: ${platform} cannot have entity_category config`);
    }
    const deviceClass = own["device_class"];
    if (deviceClass !== undefined && !DEVICE_CLASSES[platform].has(String(deviceClass))) {
        problems.push(`${where}: device_class ${String(deviceClass)} is invalid for ${platform}`);
    }
    const stateClass = own["state_class"];
    if (stateClass !== undefined) {
        if (platform !== "sensor") {
            problems.push(`${where}: state_class is for sensors only`);
        } else if (!STATE_CLASSES.has(String(stateClass))) {
            problems.push(`${where}: state_class ${String(stateClass)} is invalid`);
        }
        if (deviceClass === "timestamp" || deviceClass === "enum" || deviceClass === "date") {
            problems.push(`${where}: ${String(deviceClass)} sensors cannot have a state_class`);
        }
    }
    const unit = own["unit_of_measurement"];
    const unitRule = typeof deviceClass === "string" ? UNITS[deviceClass] : undefined;
    if (unitRule !== undefined && !unitRule.has(unit === undefined ? undefined : String(unit))) {
        problems.push(`${where}: unit ${String(unit)} is invalid for device_class ${String(deviceClass)}`);
    }
    if (own["options"] !== undefined && platform === "sensor" && deviceClass !== "enum") {
        problems.push(`${where}: options need device_class enum`);
    }
    if (platform === "select") {
        const options = own["options"];
        if (!Array.isArray(options) || options.length === 0 || !options.every((o) => typeof o === "string")) {
            problems.push(`${where}: select options must be a non-empty list of strings`);
        } else if (new Set(options).size !== options.length) {
            problems.push(`${where}: select options must be unique`);
        }
    }
    if (platform === "number") {
        const min = (own["min"] as number | undefined) ?? 1;
        const max = (own["max"] as number | undefined) ?? 100;
        const step = (own["step"] as number | undefined) ?? 1;
        if (!(min < max) || !(step > 0)) {
            problems.push(`${where}: number needs min < max and step > 0`);
        }
        const mode = own["mode"];
        if (mode !== undefined && !["auto", "box", "slider"].includes(String(mode))) {
            problems.push(`${where}: number mode ${String(mode)} is invalid`);
        }
    }
    for (const key of ["state_topic", "command_topic", "topic", "json_attributes_topic"]) {
        const topic = merged[key];
        if (topic !== undefined && (typeof topic !== "string" || topic.length === 0 || /[#+]/.test(topic))) {
            problems.push(`${where}: ${key} must be a topic without wildcards`);
        }
    }
    if (own["enabled_by_default"] !== undefined && typeof own["enabled_by_default"] !== "boolean") {
        problems.push(`${where}: enabled_by_default must be a boolean`);
    }
}

function checkDevice(device: unknown, where: string, problems: string[]): void {
    if (!isRecord(device)) {
        problems.push(`${where}: device is required`);
        return;
    }
    const identifiers = device["identifiers"];
    const connections = device["connections"];
    const hasIdentifiers =
        (typeof identifiers === "string" && identifiers.length > 0) ||
        (Array.isArray(identifiers) && identifiers.length > 0);
    if (!hasIdentifiers && !(Array.isArray(connections) && connections.length > 0)) {
        problems.push(`${where}: device needs identifiers or connections`);
    }
    const url = device["configuration_url"];
    if (url !== undefined && (typeof url !== "string" || !/^(https?:\/\/|homeassistant:\/\/)/.test(url))) {
        problems.push(`${where}: configuration_url must be http(s):// or homeassistant://`);
    }
}

function checkOrigin(origin: unknown, where: string, problems: string[]): void {
    if (!isRecord(origin) || typeof origin["name"] !== "string" || origin["name"].length === 0) {
        problems.push(`${where}: origin with a name is required`);
    }
}

function checkAvailability(object: Readonly<Record<string, unknown>>, where: string, problems: string[]): void {
    const list = object["availability"];
    if (list !== undefined && object["availability_topic"] !== undefined) {
        problems.push(`${where}: availability and availability_topic cannot be combined`);
    }
    if (list !== undefined) {
        if (!Array.isArray(list) || list.length === 0) {
            problems.push(`${where}: availability must be a non-empty list`);
        } else if (!list.every((entry) => isRecord(entry) && typeof entry["topic"] === "string")) {
            problems.push(`${where}: every availability entry needs a topic`);
        }
    }
    const mode = object["availability_mode"];
    if (mode !== undefined && !AVAILABILITY_MODES.has(String(mode))) {
        problems.push(`${where}: availability_mode ${String(mode)} is invalid`);
    }
}

function isPlatform(value: unknown): value is Platform {
    return typeof value === "string" && (PLATFORMS as readonly string[]).includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
