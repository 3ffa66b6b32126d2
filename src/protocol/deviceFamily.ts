/**
 * Device families by id prefix (new-firmware-notes.md §1.1, §2). PURE.
 *
 * The official app gives ids starting `56`, `5b`, `5c` and `60` a separate code path
 * (`/^(56|5c|5b|60)/.test(devicesCode)` in app-service.js and live.js): these cameras are
 * "MQTT-first" (they idle on MQTT and open the TCP session only when woken). Every other prefix is
 * "classic" (TCP session from boot). The prefix is compared case-insensitively: the app's regex
 * tests lower case while its model table keys are upper case (§2).
 *
 * | prefix | app model  | family     |
 * |--------|------------|------------|
 * | 08     | A9-4       | classic    |
 * | 0A     | A9-5       | classic    |
 * | 10     | A9-3       | classic    |
 * | 22     | UnRegister | classic    |
 * | 3A, 3E | CloudIpc   | classic    |
 * | 52     | Y3         | classic    |
 * | 56     | P3         | mqtt-first |
 * | 5B, 5C | CloudIpc   | mqtt-first |
 * | 60     | monitor2   | mqtt-first |
 * | 62     | A9-6       | classic    |
 */

export type DeviceFamily = "classic" | "mqtt-first";

/** Lower-case prefixes of the MQTT-first family (app regex `/^(56|5c|5b|60)/`). */
export const MQTT_FIRST_PREFIXES: readonly string[] = ["56", "5b", "5c", "60"];

/** The app's model table (`getCurrentDeviceConfig`, webpack module "232b"), keyed by the upper-cased prefix. */
const MODELS: Readonly<Record<string, string>> = {
    "08": "A9-4",
    "0A": "A9-5",
    "10": "A9-3",
    "22": "UnRegister",
    "3A": "CloudIpc",
    "3E": "CloudIpc",
    "52": "Y3",
    "56": "P3",
    "5B": "CloudIpc",
    "5C": "CloudIpc",
    "60": "monitor2",
    "62": "A9-6",
};

/** The family of a device id; ids shorter than two characters are "classic". Never throws. */
export function deviceFamilyOf(deviceId: string): DeviceFamily {
    return MQTT_FIRST_PREFIXES.includes(deviceId.slice(0, 2).toLowerCase()) ? "mqtt-first" : "classic";
}

/** True for the 56/5b/5c/60 family. */
export function isMqttFirst(deviceId: string): boolean {
    return deviceFamilyOf(deviceId) === "mqtt-first";
}

/** The app's model name for the id's prefix (`"A9-4"`, `"P3"`, …), or undefined for a prefix the app does not know. */
export function deviceModelOf(deviceId: string): string | undefined {
    const prefix = deviceId.slice(0, 2).toUpperCase();
    return Object.hasOwn(MODELS, prefix) ? MODELS[prefix] : undefined;
}
