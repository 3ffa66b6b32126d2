// biome-ignore-all lint/style/useNamingConvention: environment variable names such as V720_CLOUD__TCP_PORT are what these tests are about.
import {mkdtempSync, rmSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {parse} from "yaml";
import {ConfigError} from "../../../src/config/errors.js";
import {type Environment, formatEffectiveConfig, type LoadConfigOptions, loadConfig} from "../../../src/config/load.js";
import {parseConfig} from "../../../src/config/schema.js";

let dir: string;

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "v720-config-"));
});

afterEach(() => {
    rmSync(dir, {recursive: true, force: true});
});

function writeConfig(text: string, name = "config.yaml"): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
}

function loadError(options: LoadConfigOptions): ConfigError {
    try {
        loadConfig(options);
    } catch (error) {
        if (error instanceof ConfigError) {
            return error;
        }
        throw error;
    }
    throw new Error("expected a ConfigError");
}

describe("loadConfig: the file", () => {
    it("uses the built-in defaults when no file is given", () => {
        const loaded = loadConfig({env: {}});
        expect(loaded.file).toBeNull();
        expect(loaded.overriddenBy).toEqual([]);
        expect(loaded.config).toEqual(parseConfig({}, "defaults"));
    });

    it("reads the file given with --config", () => {
        const path = writeConfig("cloud:\n  tcp_port: 7000\n");
        const loaded = loadConfig({path, env: {}});
        expect(loaded.file).toBe(path);
        expect(loaded.config.cloud.tcpPort).toBe(7000);
    });

    it("reads V720_CONFIG, and --config wins over it", () => {
        const fromEnv = writeConfig("cloud:\n  tcp_port: 7001\n", "env.yaml");
        const fromFlag = writeConfig("cloud:\n  tcp_port: 7002\n", "flag.yaml");
        expect(loadConfig({env: {V720_CONFIG: fromEnv}}).config.cloud.tcpPort).toBe(7001);
        expect(loadConfig({path: fromFlag, env: {V720_CONFIG: fromEnv}}).config.cloud.tcpPort).toBe(7002);
    });

    it("fails when an explicitly named file does not exist", () => {
        const missing = join(dir, "missing.yaml");
        expect(loadError({path: missing, env: {}}).message).toBe(
            `cannot read config file ${missing} (from --config): file not found`,
        );
        expect(loadError({env: {V720_CONFIG: missing}}).message).toContain("(from V720_CONFIG)");
    });

    it("treats an empty file as all defaults", () => {
        expect(loadConfig({path: writeConfig(""), env: {}}).config.http.port).toBe(8099);
        expect(loadConfig({path: writeConfig("# only a comment\n"), env: {}}).config.http.port).toBe(8099);
    });

    it("reports YAML syntax errors with the file and line", () => {
        const path = writeConfig("cloud:\n  tcp_port: 1\nhttp: [a\nlog: : x\n");
        const error = loadError({path, env: {}});
        expect(error.message).toContain(`invalid YAML in ${path}`);
        expect(error.message).toMatch(/at line \d+, column \d+/);
    });

    it("reports duplicate keys", () => {
        const path = writeConfig("cloud:\n  tcp_port: 1\n  tcp_port: 2\n");
        expect(loadError({path, env: {}}).message).toMatch(/Map keys must be unique at line 3/);
    });

    it("rejects a file that is not a mapping", () => {
        const path = writeConfig("- a\n- b\n");
        expect(loadError({path, env: {}}).message).toContain("must be a mapping of keys");
    });

    it("names the file and the key of an unknown key", () => {
        const path = writeConfig("mqtt:\n  urll: mqtt://x\n");
        const error = loadError({path, env: {}});
        expect(error.message).toContain(`invalid config in ${path}:`);
        expect(error.message).toContain("at mqtt.urll");
    });

    it("names the file and the key of a value of the wrong type", () => {
        const path = writeConfig("http:\n  port: eighty\n");
        const error = loadError({path, env: {}});
        expect(error.message).toContain(path);
        expect(error.message).toContain("expected number, received string");
        expect(error.message).toContain("at http.port");
    });
});

describe("loadConfig: environment overrides", () => {
    it("maps V720_ + the upper-cased key path with __ between levels, parsing values as YAML scalars", () => {
        const env: Environment = {
            V720_CLOUD__TCP_PORT: "7000",
            V720_MQTT__BROKER__EMBEDDED: "false",
            V720_MQTT__BROKER__URL: "mqtt://127.0.0.1:1884",
            V720_LOG__LEVEL: "debug",
            V720_ADVERTISE_HOST: "192.168.1.5",
        };
        const loaded = loadConfig({env});
        expect(loaded.config.cloud.tcpPort).toBe(7000);
        expect(loaded.config.mqtt.broker.embedded).toBe(false);
        expect(loaded.config.mqtt.broker.url).toBe("mqtt://127.0.0.1:1884");
        expect(loaded.config.log.level).toBe("debug");
        expect(loaded.config.advertiseHost).toBe("192.168.1.5");
        expect(loaded.overriddenBy).toEqual([
            "V720_ADVERTISE_HOST",
            "V720_CLOUD__TCP_PORT",
            "V720_LOG__LEVEL",
            "V720_MQTT__BROKER__EMBEDDED",
            "V720_MQTT__BROKER__URL",
        ]);
    });

    it("keeps text for string keys (a numeric password stays a string with its leading zero)", () => {
        const config = loadConfig({env: {V720_MQTT__PASSWORD: "0123", V720_MQTT__USERNAME: "true"}}).config;
        expect(config.mqtt.password).toBe("0123");
        expect(config.mqtt.username).toBe("true");
    });

    it("sets a nullable key back to null with 'null' or an empty value", () => {
        const path = writeConfig("advertise_host: 10.0.0.2\nmedia:\n  ffmpeg_path: /opt/ffmpeg\n");
        const config = loadConfig({path, env: {V720_ADVERTISE_HOST: "null", V720_MEDIA__FFMPEG_PATH: ""}}).config;
        expect(config.advertiseHost).toBeNull();
        expect(config.media.ffmpegPath).toBeNull();
    });

    it("accepts YAML flow values for lists and keeps camera ids as written", () => {
        const config = loadConfig({
            env: {
                V720_CAMERAS__ALLOW: "[0800c00128F8, 0800c0020ADC]",
                V720_CAMERAS__OVERRIDES__0800c00128F8__NAME: "Front door",
                V720_HTTP__AUTH: "{username: admin, password: s3cret}",
            },
        }).config;
        expect(config.cameras.allow).toEqual(["0800c00128F8", "0800c0020ADC"]);
        expect(config.cameras.overrides).toEqual({"0800c00128F8": {name: "Front door"}});
        expect(config.http.auth).toEqual({username: "admin", password: "s3cret"});
    });

    it("wins over the file", () => {
        const path = writeConfig("cloud:\n  tcp_port: 7000\n  http_port: 8080\n");
        const config = loadConfig({path, env: {V720_CLOUD__TCP_PORT: "7100"}}).config;
        expect(config.cloud.tcpPort).toBe(7100);
        expect(config.cloud.httpPort).toBe(8080);
    });

    it("rejects unknown V720_ variables, naming each, but not V720_CONFIG", () => {
        const error = loadError({env: {V720_CLOUD__TCP_PROT: "1", V720_NOPE: "x", V720_CONFIG: ""}});
        expect(error.message).toContain("V720_CLOUD__TCP_PROT (there is no key cloud.tcp_prot)");
        expect(error.message).toContain("V720_NOPE (there is no key nope)");
        expect(error.message).not.toContain("V720_CONFIG (");
    });

    it("requires a mapping in a variable that names a whole section", () => {
        const error = loadError({env: {V720_CLOUD: "7000"}});
        expect(error.message).toContain("at cloud");
        expect(error.message).toContain("(with V720_CLOUD)");
    });

    it("validates override values and says which variables were applied", () => {
        const path = writeConfig("log:\n  level: info\n");
        const error = loadError({path, env: {V720_CLOUD__TCP_PORT: "seventy"}});
        expect(error.message).toContain(`invalid config in ${path} (with V720_CLOUD__TCP_PORT):`);
        expect(error.message).toContain("at cloud.tcp_port");
    });

    it("ignores unrelated variables", () => {
        expect(loadConfig({env: {PATH: "/usr/bin", V720: "x", HOME: "/root"}}).overriddenBy).toEqual([]);
    });

    it("applies LOG_LEVEL over the file and under V720_LOG__LEVEL", () => {
        const path = writeConfig("log:\n  level: warn\n");
        expect(loadConfig({path, env: {LOG_LEVEL: "DEBUG"}}).config.log.level).toBe("debug");
        expect(loadConfig({path, env: {LOG_LEVEL: "debug", V720_LOG__LEVEL: "error"}}).config.log.level).toBe("error");
    });

    it("uses FFMPEG_PATH only when the file sets no media.ffmpeg_path", () => {
        expect(loadConfig({env: {FFMPEG_PATH: "/opt/ffmpeg"}}).config.media.ffmpegPath).toBe("/opt/ffmpeg");
        const path = writeConfig("media:\n  ffmpeg_path: /usr/local/bin/ffmpeg\n");
        const loaded = loadConfig({path, env: {FFMPEG_PATH: "/opt/ffmpeg"}});
        expect(loaded.config.media.ffmpegPath).toBe("/usr/local/bin/ffmpeg");
        expect(loaded.overriddenBy).toEqual([]);
    });
});

describe("loadConfig: command-line overrides", () => {
    it("win over the file and the environment", () => {
        const path = writeConfig("log:\n  level: warn\n");
        const loaded = loadConfig({
            path,
            env: {LOG_LEVEL: "info", V720_LOG__LEVEL: "error"},
            overrides: {"log.level": "debug"},
        });
        expect(loaded.config.log.level).toBe("debug");
        expect(loaded.overriddenBy).toEqual(["LOG_LEVEL", "V720_LOG__LEVEL", "command line log.level"]);
    });

    it("skip flags that were not given", () => {
        expect(loadConfig({env: {}, overrides: {"log.level": undefined}}).overriddenBy).toEqual([]);
    });

    it("are validated like everything else", () => {
        const error = loadError({env: {}, overrides: {"log.level": "loud"}});
        expect(error.message).toContain("(with command line log.level)");
        expect(error.message).toContain("at log.level");
        expect(loadError({env: {}, overrides: {"log.levle": "debug"}}).message).toContain("log.levle");
    });
});

describe("formatEffectiveConfig", () => {
    it("prints snake_case YAML with passwords and URL credentials redacted", () => {
        const config = loadConfig({
            env: {
                V720_HTTP__AUTH: "{username: admin, password: s3cret}",
                V720_MQTT__URL: "mqtt://ha:hapass@192.168.1.10:1883",
                V720_MQTT__PASSWORD: "mqttpass",
                V720_MQTT__BROKER__USERS: "[{username: u, password: brokerpass}]",
                V720_CAMERAS__OVERRIDES__0800c00128F8__NAME: "Door",
                V720_LOG__NAMESPACES: "{camera:udp: debug}",
            },
        }).config;
        const text = formatEffectiveConfig(config);
        for (const secret of ["s3cret", "hapass", "mqttpass", "brokerpass"]) {
            expect(text).not.toContain(secret);
        }
        const printed: unknown = parse(text);
        expect(printed).toMatchObject({
            http: {auth: {username: "admin", password: "<redacted>"}},
            mqtt: {url: "mqtt://ha:<redacted>@192.168.1.10:1883", broker: {users: [{username: "u"}]}},
            cameras: {overrides: {"0800c00128F8": {name: "Door"}}},
            log: {namespaces: {"camera:udp": "debug"}},
            cloud: {tcp_port: 6123, udp_receive_buffer_bytes: 4_194_304},
        });
    });

    it("round-trips: the printed defaults parse back to the same config", () => {
        const config = parseConfig({}, "defaults");
        expect(parseConfig(parse(formatEffectiveConfig(config)), "printed")).toEqual(config);
    });
});
