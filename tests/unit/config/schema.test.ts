import {describe, expect, it} from "vitest";
import {ConfigError} from "../../../src/config/errors.js";
import {findKey, parseConfig} from "../../../src/config/schema.js";

function configError(raw: unknown, source = "config.yaml"): ConfigError {
    try {
        parseConfig(raw, source);
    } catch (error) {
        if (error instanceof ConfigError) {
            return error;
        }
        throw error;
    }
    throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
    it("fills every default when the file is empty", () => {
        const config = parseConfig({}, "defaults");
        expect(config).toEqual({
            advertiseHost: null,
            dataDir: "./data",
            cloud: {
                httpPort: 80,
                tcpPort: 6123,
                host: "0.0.0.0",
                loginTimeoutMs: 10_000,
                heartbeatTimeoutMs: 20_000,
                stallTimeoutMs: 5_000,
                stopGraceMs: 3_000,
                udpReceiveBufferBytes: 4_194_304,
                udpWorker: "auto",
                lowLatencyGc: "auto",
                maxCameras: 1000,
            },
            http: {port: 8099, host: "0.0.0.0", auth: null, snapshotMaxAgeMs: 2_000, snapshotTimeoutMs: 10_000},
            log: {level: "info", format: "text", namespaces: {}},
            cameras: {
                allow: [],
                overrides: {},
                wake: {template: "candidate1", customPayload: null, timeoutMs: 15_000, minIntervalMs: 5_000},
            },
            mqtt: {
                enabled: true,
                url: null,
                baseTopic: "v720",
                discoveryPrefix: "homeassistant",
                haStatusTopic: "homeassistant/status",
                username: null,
                password: null,
                clientId: null,
                discoveryMode: "device",
                snapshotIntervalS: 300,
                broker: {embedded: true, port: 1883, host: "0.0.0.0", url: null, users: []},
            },
            rtsp: {enabled: true, port: 8554, host: "0.0.0.0", auth: null, sessionTimeoutMs: 60_000, udpPort: 0},
            media: {
                ffmpegPath: null,
                audioCodec: "aac",
                stopGraceMs: 5000,
                restartMaxDelayMs: 10_000,
                video: {preset: "ultrafast", keyframeIntervalS: 1, bitrateKbps: 0, crf: 23},
                hls: {enabled: true, segmentSeconds: 1, window: 6},
            },
            dns: {
                enabled: false,
                host: "0.0.0.0",
                port: 53,
                upstream: "1.1.1.1",
                answerAddress: null,
                answerTtlS: 60,
                upstreamTimeoutMs: 2000,
                maxPending: 1024,
                zones: ["naxclow.com", "naxclow.com.cn"],
                logQueries: false,
            },
        });
    });

    it("maps cameras.wake and per-camera family and wake overrides", () => {
        const config = parseConfig(
            {
                cameras: {
                    wake: {template: "custom", custom_payload: '{"code":240}', timeout_ms: 500, min_interval_ms: 100},
                    overrides: {
                        "0800c00128F8": {family: "mqtt-first", wake: {template: "candidate3"}},
                        "5c00200204AB": {wake: {custom_payload: '{"code":241}'}},
                    },
                },
            },
            "config.yaml",
        );
        expect(config.cameras.wake).toEqual({
            template: "custom",
            customPayload: '{"code":240}',
            timeoutMs: 500,
            minIntervalMs: 100,
        });
        expect(config.cameras.overrides).toEqual({
            "0800c00128F8": {family: "mqtt-first", wake: {template: "candidate3"}},
            "5c00200204AB": {wake: {customPayload: '{"code":241}'}},
        });
        const error = configError({
            cameras: {wake: {template: "candidate9"}, overrides: {"5c00200204AB": {family: "p3"}}},
        });
        expect(error.message).toContain("at cameras.wake.template");
        expect(error.message).toContain("at cameras.overrides.5c00200204AB.family");
    });

    it("bounds the cameras remembered with cloud.max_cameras (at least 1)", () => {
        expect(parseConfig({cloud: {max_cameras: 8}}, "test").cloud.maxCameras).toBe(8);
        expect(configError({cloud: {max_cameras: 0}}).message).toContain("cloud.max_cameras");
    });

    it("treats a null document like an empty one", () => {
        expect(parseConfig(null, "empty.yaml").cloud.tcpPort).toBe(6123);
    });

    it("maps snake_case keys to camelCase options", () => {
        const config = parseConfig(
            {
                advertise_host: "192.168.1.5",
                cloud: {tcp_port: 7000, login_timeout_ms: 500},
                http: {auth: {username: "admin", password: "secret"}},
                log: {namespaces: {"camera:udp": "debug"}},
                cameras: {allow: ["0800c00128F8"], overrides: {"0800c00128F8": {name: "Door"}}},
                mqtt: {
                    base_topic: "site-a",
                    broker: {embedded: false, url: "mqtt://127.0.0.1:1884", users: [{username: "u", password: "p"}]},
                },
                media: {ffmpeg_path: "/usr/bin/ffmpeg"},
            },
            "config.yaml",
        );
        expect(config.advertiseHost).toBe("192.168.1.5");
        expect(config.cloud.tcpPort).toBe(7000);
        expect(config.cloud.loginTimeoutMs).toBe(500);
        expect(config.http.auth).toEqual({username: "admin", password: "secret"});
        expect(config.log.namespaces).toEqual({"camera:udp": "debug"});
        expect(config.cameras.overrides).toEqual({"0800c00128F8": {name: "Door"}});
        expect(Object.keys(config.cameras.overrides["0800c00128F8"] ?? {})).toEqual(["name"]);
        expect(config.mqtt.baseTopic).toBe("site-a");
        expect(config.mqtt.broker).toEqual({
            embedded: false,
            port: 1883,
            host: "0.0.0.0",
            url: "mqtt://127.0.0.1:1884",
            users: [{username: "u", password: "p"}],
        });
        expect(config.media.ffmpegPath).toBe("/usr/bin/ffmpeg");
    });

    it("returns a deeply frozen object", () => {
        const config = parseConfig({mqtt: {broker: {users: [{username: "u", password: "p"}]}}}, "config.yaml");
        expect(Object.isFrozen(config)).toBe(true);
        expect(Object.isFrozen(config.cloud)).toBe(true);
        expect(Object.isFrozen(config.mqtt.broker.users)).toBe(true);
        expect(Object.isFrozen(config.mqtt.broker.users[0])).toBe(true);
        expect(() => {
            (config.cloud as {tcpPort: number}).tcpPort = 1;
        }).toThrow(TypeError);
        expect(config.cloud.tcpPort).toBe(6123);
    });

    it("rejects an unknown key, naming the key, its path and the file", () => {
        const error = configError({cloud: {tcp_prot: 7000}}, "/etc/v720/config.yaml");
        expect(error.message).toContain("/etc/v720/config.yaml");
        expect(error.message).toContain('Unrecognized key "tcp_prot" (did you mean "tcp_port"?)');
        expect(error.message).toContain("at cloud.tcp_prot");
        expect(error.source).toBe("/etc/v720/config.yaml");
    });

    it("rejects an unknown top-level key and lists the known keys when nothing is close", () => {
        const error = configError({zzzzzz: 1});
        expect(error.message).toContain('Unrecognized key "zzzzzz" (known keys: advertise_host, data_dir, cloud,');
    });

    it("lists every problem at once", () => {
        const error = configError({
            cloud: {tcp_port: "6123", http_port: 70_000},
            mqtt: {urll: "x"},
            log: {level: "loud"},
        });
        expect(error.message).toContain("at cloud.tcp_port");
        expect(error.message).toContain("expected number, received string");
        expect(error.message).toContain("at cloud.http_port");
        expect(error.message).toContain("<=65535");
        expect(error.message).toContain("at mqtt.urll");
        expect(error.message).toContain("at log.level");
    });

    it("accepts port 0 (tests) and rejects negative or fractional ports", () => {
        expect(parseConfig({cloud: {http_port: 0, tcp_port: 0}, http: {port: 0}}, "t").cloud.httpPort).toBe(0);
        expect(configError({rtsp: {port: -1}}).message).toContain("at rtsp.port");
        expect(configError({http: {port: 80.5}}).message).toContain("at http.port");
    });

    it("rejects two listeners on the same port", () => {
        const error = configError({http: {port: 80}});
        expect(error.message).toContain("port 80 is also set for cloud.http_port");
        expect(error.message).toContain("at http.port");
    });

    it("allows the same port on two different specific addresses, and on a disabled listener", () => {
        expect(() => parseConfig({cloud: {host: "127.0.0.1"}, http: {host: "127.0.0.2", port: 80}}, "t")).not.toThrow();
        expect(() => parseConfig({rtsp: {enabled: false, port: 8099}}, "t")).not.toThrow();
        expect(() => parseConfig({mqtt: {broker: {embedded: false, url: "mqtt://h", port: 8099}}}, "t")).not.toThrow();
    });

    it("requires mqtt.broker.url when the broker is not embedded", () => {
        const error = configError({mqtt: {broker: {embedded: false}}});
        expect(error.message).toContain("at mqtt.broker.url");
        expect(parseConfig({mqtt: {enabled: false, broker: {embedded: false}}}, "t").mqtt.enabled).toBe(false);
    });

    it("validates formats: device ids, topics, URLs, advertise_host, log levels", () => {
        expect(configError({cameras: {allow: ["not an id"]}}).message).toContain("at cameras.allow[0]");
        expect(configError({mqtt: {base_topic: "v720/#"}}).message).toContain("at mqtt.base_topic");
        expect(configError({mqtt: {url: "localhost:1883"}}).message).toContain("at mqtt.url");
        expect(configError({advertise_host: "http://192.168.1.5"}).message).toContain("at advertise_host");
        expect(configError({advertise_host: "192.168.1.5:80"}).message).toContain("at advertise_host");
        expect(parseConfig({advertise_host: "fd00::5"}, "t").advertiseHost).toBe("fd00::5");
        expect(configError({log: {namespaces: {camera: "verbose"}}}).message).toContain("at log.namespaces.camera");
        expect(configError({http: {auth: {username: "admin"}}}).message).toContain("at http.auth.password");
    });

    it("rejects a document that is not a mapping", () => {
        expect(configError(["a", "b"]).message).toContain("expected object");
    });
});

describe("findKey", () => {
    it("walks objects and records", () => {
        expect(findKey(["cloud", "tcp_port"])).toEqual({
            path: ["cloud", "tcp_port"],
            isText: false,
            isNullable: false,
            childKeys: [],
        });
        expect(findKey(["CAMERAS", "OVERRIDES", "0800c00128F8", "NAME"], {ignoreCase: true})?.path).toEqual([
            "cameras",
            "overrides",
            "0800c00128F8",
            "name",
        ]);
        expect(findKey(["advertise_host"])).toMatchObject({isText: true, isNullable: true});
        expect(findKey(["log", "level"])).toMatchObject({isText: true, isNullable: false});
        expect(findKey(["mqtt", "broker"])?.childKeys).toContain("embedded");
    });

    it("returns undefined for a path the schema does not have", () => {
        expect(findKey(["cloud", "tcp_prot"])).toBeUndefined();
        expect(findKey(["cloud", "tcp_port", "deeper"])).toBeUndefined();
        expect(findKey(["CLOUD"])).toBeUndefined();
    });
});
