import {fileURLToPath} from "node:url";
import {describe, expect, it} from "vitest";
import {parse} from "yaml";
import {formatEffectiveConfig, readConfigFile} from "../../../src/config/load.js";
import {parseConfig} from "../../../src/config/schema.js";

const EXAMPLE = fileURLToPath(new URL("../../../config.example.yaml", import.meta.url));

describe("config.example.yaml", () => {
    it("validates", () => {
        expect(() => parseConfig(readConfigFile(EXAMPLE), EXAMPLE)).not.toThrow();
    });

    it("lists every key with its default value", () => {
        const defaults: unknown = parse(formatEffectiveConfig(parseConfig({}, "defaults")));
        expect(readConfigFile(EXAMPLE)).toEqual(defaults);
    });
});
