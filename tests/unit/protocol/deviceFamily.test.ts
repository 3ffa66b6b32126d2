import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {deviceFamilyOf, deviceModelOf, isMqttFirst, MQTT_FIRST_PREFIXES} from "../../../src/protocol/deviceFamily.js";

describe("deviceFamilyOf", () => {
    it.each([
        // ids from the notes (protocol-notes.md §3.3, new-firmware-notes.md §1)
        ["0800c00128F8", "classic"],
        ["22000022A2AA", "classic"],
        ["56000b00054B", "mqtt-first"], // intx82#50, firmware 202411152039
        ["5c00200204AB", "mqtt-first"], // iledesma08/v720-ask, firmware 202509111709
        ["5C00200204AB", "mqtt-first"], // upper case: compared case-insensitively
        ["5b0000000001", "mqtt-first"],
        ["5B0000000001", "mqtt-first"],
        ["600000000001", "mqtt-first"],
        ["3a0000000001", "classic"], // CloudIpc, but not in the app's special-path regex
        ["3E0000000001", "classic"],
        ["0A0000000001", "classic"],
        ["5", "classic"],
        ["", "classic"],
        ["x56000000000", "classic"], // the prefix is the first two characters, not a substring
    ])("%s is %s", (id, family) => {
        expect(deviceFamilyOf(id)).toBe(family);
        expect(isMqttFirst(id)).toBe(family === "mqtt-first");
    });

    it("lists exactly the app's regex prefixes, in lower case", () => {
        expect([...MQTT_FIRST_PREFIXES].sort()).toStrictEqual(["56", "5b", "5c", "60"]);
    });

    it("never throws and always answers one of the two families", () => {
        fc.assert(
            fc.property(fc.string({maxLength: 20}), (id) => {
                expect(["classic", "mqtt-first"]).toContain(deviceFamilyOf(id));
            }),
        );
    });
});

describe("deviceModelOf", () => {
    it.each([
        ["0800c00128F8", "A9-4"],
        ["0a0000000001", "A9-5"],
        ["56000b00054B", "P3"],
        ["5c00200204AB", "CloudIpc"],
        ["5B0000000001", "CloudIpc"],
        ["600000000001", "monitor2"],
        ["22000022A2AA", "UnRegister"],
        ["620000000001", "A9-6"],
        ["990000000001", undefined],
        ["", undefined],
        ["__proto__", undefined],
    ])("%s → %s", (id, model) => {
        expect(deviceModelOf(id)).toBe(model);
    });
});
