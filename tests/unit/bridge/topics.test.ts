import {describe, expect, it} from "vitest";
import {
    availabilitySubscription,
    availabilityTopic,
    bridgeStateTopic,
    cameraUniqueId,
    commandSubscription,
    commandTopic,
    componentDiscoveryTopic,
    deviceDiscoveryTopic,
    discoveryId,
    parseAvailabilityTopic,
    parseCommandTopic,
    snapshotTopic,
    stateTopic,
} from "../../../src/bridge/topics.js";

describe("topics (decisions.md 8)", () => {
    it("names every per-camera topic under the base topic", () => {
        expect(bridgeStateTopic("v720")).toBe("v720/bridge/state");
        expect(availabilityTopic("v720", "0800c00128F8")).toBe("v720/0800c00128F8/availability");
        expect(stateTopic("v720", "0800c00128F8")).toBe("v720/0800c00128F8/state");
        expect(snapshotTopic("v720", "0800c00128F8")).toBe("v720/0800c00128F8/snapshot");
        expect(commandTopic("v720", "0800c00128F8", "ir_led")).toBe("v720/0800c00128F8/ir_led/set");
        expect(cameraUniqueId("0800c00128F8", "ir_led")).toBe("v720_0800c00128F8_ir_led");
        expect(commandSubscription("v720")).toBe("v720/+/+/set");
        expect(availabilitySubscription("site/a")).toBe("site/a/+/availability");
    });

    it("parses command topics of its own base only", () => {
        expect(parseCommandTopic("v720", "v720/0800c00128F8/ir_led/set")).toStrictEqual({
            node: "0800c00128F8",
            entity: "ir_led",
        });
        expect(parseCommandTopic("site/a", "site/a/bridge/republish/set")).toStrictEqual({
            node: "bridge",
            entity: "republish",
        });
        expect(parseCommandTopic("v720", "other/0800c00128F8/ir_led/set")).toBeUndefined();
        expect(parseCommandTopic("v720", "v7200/x/ir_led/set")).toBeUndefined();
        expect(parseCommandTopic("v720", "v720/0800c00128F8/ir_led")).toBeUndefined();
        expect(parseCommandTopic("v720", "v720/0800c00128F8/ir_led/x/set")).toBeUndefined();
        expect(parseCommandTopic("v720", "v720//ir_led/set")).toBeUndefined();
    });

    it("parses availability topics, never the bridge's", () => {
        expect(parseAvailabilityTopic("v720", "v720/0800c00128F8/availability")).toBe("0800c00128F8");
        expect(parseAvailabilityTopic("v720", "v720/bridge/availability")).toBeUndefined();
        expect(parseAvailabilityTopic("v720", "v720/a/b/availability")).toBeUndefined();
        expect(parseAvailabilityTopic("v720", "x/0800c00128F8/availability")).toBeUndefined();
    });

    it("builds discovery topics with HA-safe ids", () => {
        expect(discoveryId("v720_bridge_site/b c")).toBe("v720_bridge_site_b_c");
        expect(deviceDiscoveryTopic("homeassistant", "0800c00128F8")).toBe("homeassistant/device/0800c00128F8/config");
        expect(componentDiscoveryTopic("ha", "switch", "0800c00128F8", "ir_led")).toBe(
            "ha/switch/0800c00128F8/ir_led/config",
        );
    });
});
