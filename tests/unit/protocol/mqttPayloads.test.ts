import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {ContentCode} from "../../../src/protocol/commands.js";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {
    buildFlipForwardContent,
    buildMqttAction,
    buildMqttSetting,
    buildSetWifi,
    buildStatusPayload,
    buildWakeCommand,
    CommandValidationError,
    decodeWifiScan,
    encodeDeviceJson,
    encodeWifiScan,
    isDeviceId,
    isWakeTemplate,
    MqttCommandCode,
    type MqttSettingCode,
    NaxclowTopic,
    naxclowCommandTopic,
    parseBaseInfo,
    parseInfo,
    parseMqttCommand,
    parseNaxclowCommandTopic,
    parseStatus,
    validateMqttCommand,
    WAKE_TEMPLATES,
    type WakeParams,
} from "../../../src/protocol/mqttPayloads.js";
import {
    INFO_BOOT_JSON,
    INFO_SD_JSON,
    STATUS_OFFLINE_JSON,
    STATUS_ONLINE_JSON,
} from "../../support/fixtures/mqttCapture.js";
import {thrown} from "./thrown.js";

const bytes = (text: string): Buffer => Buffer.from(text, "utf8");

describe("topics", () => {
    it("builds and parses the camera's command topic", () => {
        expect(naxclowCommandTopic("0800c00128F8")).toBe("Naxclow/P2P/Users/Device/sub/0800c00128F8");
        expect(parseNaxclowCommandTopic("Naxclow/P2P/Users/Device/sub/0800c00128F8")).toBe("0800c00128F8");
        expect(parseNaxclowCommandTopic("Naxclow/P2P/Users/Device/sub/+")).toBeUndefined();
        expect(parseNaxclowCommandTopic(NaxclowTopic.status)).toBeUndefined();
    });

    it("accepts 12-character alphanumeric ids only", () => {
        for (const id of ["0800c00128F8", "56000b00054B", "22000022A2AA"]) {
            expect(isDeviceId(id)).toBe(true);
        }
        for (const id of ["", "0800c00128F", "0800c00128F8x", "0800c00/28F8", "0800c00128+8"]) {
            expect(isDeviceId(id)).toBe(false);
        }
    });
});

describe("parseStatus", () => {
    it("reads the capture's Status 1 (frame 50)", () => {
        expect(parseStatus(bytes(STATUS_ONLINE_JSON))).toStrictEqual({
            deviceId: "0800c00128F8",
            online: true,
            status: 1,
            token: "NAXCLOW",
            fields: {},
        });
    });

    it("reads the will / power-off Status 0", () => {
        expect(parseStatus(bytes(STATUS_OFFLINE_JSON))).toMatchObject({online: false, status: 0});
    });

    it("[quirk] firmware 202411152039 sends a hex token instead of NAXCLOW", () => {
        const report = parseStatus(bytes('{"device":"56000b00054B","token":"a1b2c3","status": 1}'));
        expect(report).toMatchObject({deviceId: "56000b00054B", token: "a1b2c3", online: true});
    });

    it("carries a Wi-Fi scan that arrives on Status", () => {
        const scan = encodeWifiScan([{ssid: "home", rssi: -40}]);
        const report = parseStatus(bytes(`{"device":"0800c00128F8","status": 1,"scanWifiBase64":"${scan}"}`));
        expect(report.fields.wifiScan).toStrictEqual({networks: [{ssid: "home", rssi: -40}]});
    });

    it("rejects a Status without a numeric status", () => {
        expect(thrown(() => parseStatus(bytes('{"device":"x"}')))).toBeInstanceOf(ProtocolError);
        expect(thrown(() => parseStatus(bytes('{"status":"on"}')))).toBeInstanceOf(ProtocolError);
    });

    it("accepts a missing device id", () => {
        expect(parseStatus(bytes('{"status":1}')).deviceId).toBeNull();
    });
});

describe("parseInfo", () => {
    it("reads the capture's boot Info (frame 54): no SD card yet", () => {
        const report = parseInfo(bytes(INFO_BOOT_JSON));
        expect(report.deviceId).toBe("0800c00128F8");
        expect(report.fields).toStrictEqual({
            batteryPercent: 100,
            irLed: 0,
            statusLed: true,
            sdRecording: true,
            recordOnMotion: false,
            sdState: 0,
            sdCapacity: 0,
            sdFreeMb: null,
            sdTotalMb: null,
            wifiName: "intl-laptop",
            firmware: "202212011602",
        });
        expect(report.raw["apStatus"]).toBe(0);
    });

    it("reads the capture's second Info (frame 58) with SD card data", () => {
        expect(parseInfo(bytes(INFO_SD_JSON)).fields).toMatchObject({
            sdState: 1,
            sdCapacity: 60,
            sdFreeMb: 35359,
            sdTotalMb: 60334,
        });
    });

    it("[quirk] reads newer firmware keys (PIR, grades, IrLed 2) and keeps unknown ones", () => {
        const report = parseInfo(
            bytes(
                '{"pirDevice":1,"pirSysMode":2,"devPower":51,"pirGrade":3,"moveGrade":2,"instLed":0,' +
                    '"pirAlert":1,"IrLed":2,"lightGrade":1,"camPixelX":640,"devicesCode":"56000b00054B"}',
            ),
        );
        expect(report.fields).toStrictEqual({
            batteryPercent: 51,
            irLed: 2,
            statusLed: false,
            motionSensitivity: 2,
            pirAlert: 1,
            pirSensitivity: 3,
        });
        expect(report.raw["camPixelX"]).toBe(640);
    });

    it("accepts an empty object and ignores values of the wrong type", () => {
        expect(parseInfo(bytes("{}"))).toStrictEqual({deviceId: null, fields: {}, raw: {}});
        expect(parseInfo(bytes('{"devPower":"full","instLed":null,"wifiName":7,"version":""}')).fields).toStrictEqual(
            {},
        );
    });

    it("reads numbers sent as numeric strings", () => {
        expect(parseInfo(bytes('{"devPower":"87","IrLed":"1"}')).fields).toStrictEqual({batteryPercent: 87, irLed: 1});
    });

    it("decodes invalid UTF-8 with replacement characters", () => {
        const payload = Buffer.concat([bytes('{"wifiName":"caf'), Buffer.from([0xc3, 0x28]), bytes('"}')]);
        expect(parseInfo(payload).fields.wifiName).toBe("caf\ufffd(");
    });

    it("[quirk] ignores trailing NUL bytes and whitespace", () => {
        expect(parseInfo(Buffer.concat([bytes('{"devPower": 9}'), Buffer.from([0, 0, 0x0a])])).fields).toStrictEqual({
            batteryPercent: 9,
        });
    });

    it("rejects non-JSON, arrays and oversized payloads with ProtocolError", () => {
        expect(thrown(() => parseInfo(bytes("not json")))).toBeInstanceOf(ProtocolError);
        expect(thrown(() => parseInfo(bytes("[1,2]")))).toBeInstanceOf(ProtocolError);
        expect(thrown(() => parseInfo(bytes("null")))).toBeInstanceOf(ProtocolError);
        expect(thrown(() => parseInfo(Buffer.alloc(70_000, 0x20)))).toBeInstanceOf(ProtocolError);
    });

    it("never throws anything but ProtocolError on random bytes", () => {
        fc.assert(
            fc.property(fc.uint8Array({maxLength: 200}), (data) => {
                for (const parse of [parseInfo, parseStatus, parseMqttCommand]) {
                    try {
                        parse(Buffer.from(data));
                    } catch (error) {
                        expect(error).toBeInstanceOf(ProtocolError);
                    }
                }
            }),
        );
    });

    it("never throws anything but ProtocolError on random JSON objects", () => {
        fc.assert(
            fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
                const payload = bytes(JSON.stringify(object));
                expect(() => parseInfo(payload)).not.toThrow();
                try {
                    parseStatus(payload);
                } catch (error) {
                    expect(error).toBeInstanceOf(ProtocolError);
                }
            }),
        );
    });
});

describe("parseBaseInfo (code 4 content over TCP)", () => {
    it("reads the documented keys, including mirrorFlip and sdDevStatus", () => {
        expect(
            parseBaseInfo(
                JSON.parse(
                    '{"code":4,"IrLed":1,"devPower":100,"speedGrade":1,"moveAlert":0,"sdMoveMode":0,' +
                        '"wifiName":"net","instLed":1,"sdDevStatus":0,"mirrorFlip":4,"version":"202212011602"}',
                ) as Record<string, unknown>,
            ),
        ).toStrictEqual({
            batteryPercent: 100,
            irLed: 1,
            statusLed: true,
            recordOnMotion: false,
            motionAlert: false,
            flip: 4,
            sdState: 0,
            wifiName: "net",
            firmware: "202212011602",
        });
    });
});

describe("parseBaseInfo with in-process values", () => {
    it("ignores non-finite numbers", () => {
        expect(parseBaseInfo({devPower: Number.POSITIVE_INFINITY, moveGrade: Number.NaN})).toStrictEqual({});
    });
});

describe("Wi-Fi scan (211)", () => {
    it("round-trips the simulator's line layout", () => {
        const networks = [
            {ssid: "home", rssi: -40},
            {ssid: "café 5G", rssi: -71},
            {ssid: "open", rssi: null},
        ];
        expect(decodeWifiScan(encodeWifiScan(networks))).toStrictEqual({networks});
    });

    it("reads a JSON array of strings or objects", () => {
        const json = Buffer.from(
            '[{"ssid":"a","rssi":-50},{"s":"b"},"c",{"x":1},{"name":"d","signal":"-60"},7]',
        ).toString("base64");
        expect(decodeWifiScan(json).networks).toStrictEqual([
            {ssid: "a", rssi: -50},
            {ssid: "b", rssi: null},
            {ssid: "c", rssi: null},
            {ssid: "d", rssi: -60},
        ]);
    });

    it("falls back to lines when text in brackets is not JSON, and skips blank lines", () => {
        const text = Buffer.from("[home]\n\n  \r\nwork\t-70\0\0").toString("base64");
        expect(decodeWifiScan(text).networks).toStrictEqual([
            {ssid: "[home]", rssi: null},
            {ssid: "work", rssi: -70},
        ]);
    });

    it("keeps at most 64 networks", () => {
        const many = Array.from({length: 100}, (_, i) => ({ssid: `n${i}`, rssi: -50}));
        expect(decodeWifiScan(encodeWifiScan(many)).networks).toHaveLength(64);
    });

    it("rejects text that is not base64", () => {
        expect(thrown(() => decodeWifiScan("not base64!"))).toBeInstanceOf(ProtocolError);
    });

    it("drops an unreadable scan but keeps the rest of the Info", () => {
        expect(parseInfo(bytes('{"devPower":5,"scanWifiBase64":"%%%"}')).fields).toStrictEqual({batteryPercent: 5});
    });
});

describe("MQTT command builders", () => {
    const settings: [MqttSettingCode, number, string][] = [
        [MqttCommandCode.irLed, 1, '{"code":202,"IrLed":1}'],
        [MqttCommandCode.moveMode, 0, '{"code":203,"sdMoveMode":0}'],
        [MqttCommandCode.moveAlert, 1, '{"code":205,"moveAlert":1}'],
        [MqttCommandCode.moveGrade, 5, '{"code":206,"moveGrade":5}'],
        [MqttCommandCode.sdCardReco, 0, '{"code":209,"sdCardReco":0}'],
        [MqttCommandCode.instLed, 0, '{"code":210,"instLed":0}'],
        [MqttCommandCode.pirSysMode, 2, '{"code":212,"pirSysMode":2}'],
        [MqttCommandCode.pirAlert, 1, '{"code":213,"pirAlert":1}'],
        [MqttCommandCode.lightGrade, 3, '{"code":214,"lightGrade":3}'],
        [MqttCommandCode.pirGrade, 0, '{"code":215,"pirGrade":0}'],
        [MqttCommandCode.sysPowerRun, 1, '{"code":227,"sysPowerRun":1}'],
    ];

    it.each(settings)("builds setting %i = %i exactly as the app does", (code, value, json) => {
        expect(JSON.stringify(buildMqttSetting(code, value))).toBe(json);
    });

    it.each([
        [MqttCommandCode.irLed, 2],
        [MqttCommandCode.irLed, -1],
        [MqttCommandCode.instLed, 0.5],
        [MqttCommandCode.moveGrade, 6],
        [MqttCommandCode.pirGrade, Number.NaN],
        [MqttCommandCode.pirSysMode, 3],
    ])("rejects code %i with value %d", (code, value) => {
        expect(thrown(() => buildMqttSetting(code as MqttSettingCode, value))).toBeInstanceOf(CommandValidationError);
    });

    it("builds the actions, reboot with reboot:1", () => {
        expect(buildMqttAction(MqttCommandCode.reboot)).toStrictEqual({code: 299, reboot: 1});
        expect(buildMqttAction(MqttCommandCode.wifiScan)).toStrictEqual({code: 211});
        expect(buildMqttAction(MqttCommandCode.sdCardFormat)).toStrictEqual({code: 207});
    });

    it("never builds the destructive unbinding (222) or unknown codes", () => {
        expect(thrown(() => validateMqttCommand({code: 222, unbinding: 0}))).toBeInstanceOf(CommandValidationError);
        expect(thrown(() => validateMqttCommand({code: 1234}))).toBeInstanceOf(CommandValidationError);
        expect(thrown(() => buildMqttSetting(222 as MqttSettingCode, 0))).toBeInstanceOf(CommandValidationError);
        expect(thrown(() => buildMqttAction(202 as typeof MqttCommandCode.reboot))).toBeInstanceOf(
            CommandValidationError,
        );
    });

    it("validates raw command JSON against the table", () => {
        expect(validateMqttCommand(JSON.parse('{"code":202,"IrLed":1,"extra":true}'))).toStrictEqual(
            JSON.parse('{"code":202,"IrLed":1}'),
        );
        expect(validateMqttCommand({code: 299})).toStrictEqual({code: 299, reboot: 1});
        expect(validateMqttCommand({code: 204, s: "home", p: "password1"})).toStrictEqual({
            code: 204,
            s: "home",
            p: "password1",
        });
        const wrongType: unknown = JSON.parse('{"code":202,"IrLed":"1"}');
        for (const bad of [null, [], "x", {code: "202"}, {code: 202}, wrongType, {code: 204, s: 1}]) {
            expect(thrown(() => validateMqttCommand(bad))).toBeInstanceOf(CommandValidationError);
        }
    });

    it("validates Wi-Fi credentials", () => {
        expect(buildSetWifi("home", "")).toStrictEqual({code: 204, s: "home", p: ""});
        expect(thrown(() => buildSetWifi("", "password1"))).toBeInstanceOf(CommandValidationError);
        expect(thrown(() => buildSetWifi("x".repeat(33), "password1"))).toBeInstanceOf(CommandValidationError);
        expect(thrown(() => buildSetWifi("home", "short"))).toBeInstanceOf(CommandValidationError);
    });

    it("builds the flip forward content 0..4 only", () => {
        expect(buildFlipForwardContent(4)).toStrictEqual({code: 216, mirrorFlip: 4});
        expect(thrown(() => buildFlipForwardContent(5))).toBeInstanceOf(CommandValidationError);
    });

    it("keeps the MQTT and TCP namespaces apart where the notes say they differ", () => {
        // protocol-notes.md §6.2: 212 is MOTOR_STATE on TCP but pirSysMode on MQTT; 213-215 differ too.
        expect(ContentCode.motorState).toBe(212);
        expect(MqttCommandCode.pirSysMode).toBe(212);
        expect(Object.values(ContentCode)).not.toContain(MqttCommandCode.pirGrade);
    });

    it("parses a command received by the device", () => {
        expect(parseMqttCommand(bytes('{"code": 202, "IrLed": 1}'))).toStrictEqual(
            JSON.parse('{"code":202,"IrLed":1}'),
        );
        expect(thrown(() => parseMqttCommand(bytes('{"IrLed": 1}')))).toBeInstanceOf(ProtocolError);
    });
});

describe("device-style JSON", () => {
    it("reproduces the capture's Status payloads byte for byte", () => {
        expect(buildStatusPayload("0800c00128F8", true).toString("utf8")).toBe(STATUS_ONLINE_JSON);
        expect(buildStatusPayload("0800c00128F8", false).toString("utf8")).toBe(STATUS_OFFLINE_JSON);
    });

    it("reproduces the capture's Info spacing: a space before numbers, none before strings", () => {
        const entries: [string, string | number][] = [
            ["apStatus", 0],
            ["devPower", 100],
            ["sdCapacity", 0],
            ["IrLed", 0],
            ["SD_freeDisk", -1],
            ["SD_blockDisk", -1],
            ["cameraState", 0],
            ["sd_State", 0],
            ["sdMoveMode", 0],
            ["sdCardReco", 1],
            ["instLed", 1],
            ["random", "BCDEFG"],
            ["token", "910d310434"],
            ["devicesCode", "0800c00128F8"],
            ["wifiName", "intl-laptop"],
            ["version", "202212011602"],
        ];
        expect(encodeDeviceJson(entries).toString("utf8")).toBe(INFO_BOOT_JSON);
    });
});

describe("wake message (240) templates, new-firmware-notes.md §5.2", () => {
    const params: WakeParams = {
        deviceId: "5c00200204AB",
        host: "192.168.1.10",
        tcpPort: 6123,
        pwd: "deadbeef",
        domain: "v720.naxclow.com",
        nowS: 1_700_000_000,
        userId: " ",
        cliTarget: "00112233445566778899aabbccddeeff",
        cliToken: "deadc0de",
    };
    const candidate1 = {
        code: 240,
        host: "192.168.1.10",
        tcpPort: 6123,
        uid: "5c00200204AB",
        pwd: "deadbeef",
        domain: "v720.naxclow.com",
        isBind: "8",
        currTime: "1700000000",
        updateUrl: null,
        version: null,
    };

    it.each([
        ["candidate1", candidate1],
        ["candidate2", {code: 240, host: "192.168.1.10", tcpPort: 6123}],
        ["candidate3", {code: 240}],
        [
            "candidate4",
            {
                code: 240,
                cliTarget: "00112233445566778899aabbccddeeff",
                cliToken: "deadc0de",
                cliIp: "192.168.1.10",
                cliPort: 6123,
                cliNatIp: "192.168.1.10",
                cliNatPort: 6123,
                host: "192.168.1.10",
                tcpPort: 6123,
            },
        ],
        ["candidate5", {...candidate1, userId: " "}],
    ] as const)("builds %s", (template, expected) => {
        expect(buildWakeCommand(template, params)).toStrictEqual(expected);
    });

    it("keeps the candidate order of the notes and knows its template names", () => {
        expect(WAKE_TEMPLATES).toStrictEqual([
            "candidate1",
            "candidate2",
            "candidate3",
            "candidate4",
            "candidate5",
            "custom",
        ]);
        expect(isWakeTemplate("candidate4")).toBe(true);
        expect(isWakeTemplate("candidate6")).toBe(false);
        expect(MqttCommandCode.liveWake).toBe(240);
    });

    it("fills the placeholders of a custom payload, JSON-escaped", () => {
        const payload =
            '{"code":241,"host":"{{host}}","tcpPort":{{tcpPort}},"uid":"{{ id }}","pwd":"{{pwd}}","d":"{{domain}}",' +
            '"t":"{{time}}","u":"{{userId}}","ct":"{{cliTarget}}","ck":"{{cliToken}}"}';
        expect(buildWakeCommand("custom", {...params, userId: 'say "hi"'}, payload)).toStrictEqual({
            code: 241,
            host: "192.168.1.10",
            tcpPort: 6123,
            uid: "5c00200204AB",
            pwd: "deadbeef",
            d: "v720.naxclow.com",
            t: "1700000000",
            u: 'say "hi"',
            ct: "00112233445566778899aabbccddeeff",
            ck: "deadc0de",
        });
        expect(buildWakeCommand("custom", params, '{"host":"{{host}}"}')).toStrictEqual({
            host: "192.168.1.10",
            code: 240,
        });
    });

    it.each([
        [null, "needs cameras.wake.custom_payload"],
        ["  ", "needs cameras.wake.custom_payload"],
        ['{"code":240,"x":"{{nope}}"}', "unknown placeholder {{nope}}"],
        ['{"code":240,', "not JSON after substitution"],
        ["[240]", "must be a JSON object"],
        ["null", "must be a JSON object"],
        ['{"code":299,"reboot":1}', "code must be an integer 230..249, got 299"],
        ['{"code":207}', "got 207"],
        ['{"code":229}', "got 229"],
        ['{"code":250}', "got 250"],
        ['{"code":240.5}', "got 240.5"],
        ['{"code":"240"}', 'got "240"'],
    ])("refuses the custom payload %j", (payload, message) => {
        expect(() => buildWakeCommand("custom", params, payload)).toThrow(CommandValidationError);
        expect(() => buildWakeCommand("custom", params, payload)).toThrow(message);
    });

    it("refuses the custom template without a payload", () => {
        expect(() => buildWakeCommand("custom", params)).toThrow("custom_payload");
    });

    it("reads errStatus from an Info, as a number", () => {
        expect(parseInfo(Buffer.from('{"devicesCode":"5c00200204AB","errStatus": 2}')).fields.errStatus).toBe(2);
        expect(parseInfo(Buffer.from('{"errStatus":"1"}')).fields.errStatus).toBe(1);
        expect(parseInfo(Buffer.from('{"errStatus":"x"}')).fields).not.toHaveProperty("errStatus");
    });

    it("never accepts 240 through the raw command path (only the wake path builds it)", () => {
        expect(() => validateMqttCommand({code: 240})).toThrow(CommandValidationError);
    });
});
