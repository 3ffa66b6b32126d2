import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {Code} from "../../../src/protocol/commands.js";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {
    buildBaseInfoRequest,
    buildDeviceStatus,
    buildForward,
    buildNatRequest,
    buildProbeRequest,
    buildRegisterResponse,
    buildUdpResponse,
    decodeJson,
    encodeJson,
    encodeJsonPacket,
    localUnixTimer,
    parseForward,
    parseNatResponse,
    parseProbeResponse,
    parseRegisterRequest,
    type WireMessage,
} from "../../../src/protocol/messages.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";
import {TcpFramer} from "../../../src/protocol/tcpFramer.js";
import {
    CLIENT_TARGET,
    deviceStatus,
    forwardBaseInfo,
    forwardBaseInfoReply,
    forwardRetransmission,
    forwardStartLive,
    forwardStartLiveEcho,
    forwardStop,
    HANDSHAKE_FIXTURES,
    natRequest,
    natResponse,
    probeRequest,
    probeResponse,
    udpResponse,
} from "../../support/fixtures/handshake.js";
import type {PacketFixture} from "../../support/fixtures/packetFixture.js";
import {registerResponse, registration, TCP_SESSION_FIXTURES} from "../../support/fixtures/tcpSession.js";
import {thrown} from "./thrown.js";

const jsonFixtures = [...TCP_SESSION_FIXTURES, ...HANDSHAKE_FIXTURES].filter(
    (fixture): fixture is PacketFixture & {json: WireMessage} => fixture.json !== undefined,
);

/** Decodes a fixture the way the server will: TCP through the framer, UDP as one datagram. */
function receive(fixture: PacketFixture) {
    const bytes = Buffer.from(fixture.hex, "hex");
    if (fixture.transport === "udp") {
        return decodeDatagram(bytes);
    }
    const packets = new TcpFramer().push(bytes);
    expect(packets).toHaveLength(1);
    return packets[0]!;
}

describe("messages", () => {
    describe("fixtures from fake-server-protocol.md and the capture", () => {
        it.each(jsonFixtures)("decodes $name", (fixture) => {
            const packet = receive(fixture);
            expect(packet.header).toStrictEqual(fixture.header);
            expect(decodeJson(packet.payload)).toStrictEqual(fixture.json);
        });

        it.each(jsonFixtures.filter((fixture) => fixture.isCompactJson === true))("encodes $name", (fixture) => {
            const {msgFlag, dealFlag, forwardId, packageId} = fixture.header;
            expect(encodeJsonPacket(fixture.json, {msgFlag, dealFlag, forwardId, packageId}).toString("hex")).toBe(
                fixture.hex,
            );
        });

        it.each(jsonFixtures)("re-encodes $name to the same JSON value", (fixture) => {
            const packet = receive(fixture);
            expect(JSON.parse(encodeJson(decodeJson(packet.payload)).toString("utf8"))).toStrictEqual(fixture.json);
        });
    });

    describe("builders produce what the server sends", () => {
        const cases: {name: string; built: WireMessage; fixture: PacketFixture}[] = [
            {name: "101", built: buildRegisterResponse(), fixture: registerResponse},
            {
                name: "11",
                built: buildNatRequest({
                    cliTarget: CLIENT_TARGET,
                    cliToken: "55ABfb77",
                    cliIp: "10.42.0.1",
                    cliPort: 53221,
                    cliNatIp: "10.42.0.1",
                    cliNatPort: 41234,
                }),
                fixture: natRequest,
            },
            {name: "21", built: buildUdpResponse("10.42.0.1", 53221), fixture: udpResponse},
            {name: "50", built: buildProbeRequest(), fixture: probeRequest},
            {name: "53", built: buildDeviceStatus(), fixture: deviceStatus},
            {name: "301/298", built: buildForward(CLIENT_TARGET, {code: 298}), fixture: forwardRetransmission},
            {
                name: "301/4",
                built: buildForward(CLIENT_TARGET, buildBaseInfoRequest(1677886134)),
                fixture: forwardBaseInfo,
            },
            {name: "301/3", built: buildForward(CLIENT_TARGET, {code: 3}), fixture: forwardStartLive},
            {name: "301/0", built: buildForward(CLIENT_TARGET, {code: 0}), fixture: forwardStop},
        ];

        it.each(cases)("builds $name byte for byte", ({built, fixture}) => {
            expect(encodeJsonPacket(built).toString("hex")).toBe(fixture.hex);
        });
    });

    describe("parsers", () => {
        it("parses the registration", () => {
            expect(parseRegisterRequest(registration.json!)).toStrictEqual({
                uid: "0800c00128F8",
                token: "91edf41f",
                domain: "v720.naxclow.com",
            });
        });

        it("parses the code 12 NAT response", () => {
            expect(parseNatResponse(natResponse.json!)).toStrictEqual({
                status: 200,
                devIp: "10.42.0.1",
                devPort: 53221,
                devNatIp: "10.42.0.28",
                devNatPort: 29291,
                cliTarget: CLIENT_TARGET,
            });
        });

        it("parses the code 51 probe response", () => {
            expect(parseProbeResponse(probeResponse.json!)).toStrictEqual({devTarget: "0800c0012345", status: 200});
        });

        it("parses 301 forwards and keeps unknown content keys", () => {
            expect(parseForward(forwardStartLiveEcho.json!)).toStrictEqual({target: CLIENT_TARGET, content: {code: 3}});
            expect(parseForward(forwardBaseInfoReply.json!).content).toMatchObject({
                wifiName: "intl-laptop",
                ["IrLed"]: 1,
            });
        });

        it.each([
            ["no uid", {code: 100, token: "t", domain: "d"}],
            ["an empty uid", {code: 100, uid: "", token: "t", domain: "d"}],
            ["a 65-character uid", {code: 100, uid: "x".repeat(65), token: "t", domain: "d"}],
            ["a numeric uid", {code: 100, uid: 42, token: "t", domain: "d"}],
            ["another code", {code: 101, uid: "abc", token: "t", domain: "d"}],
            ["no token", {code: 100, uid: "abc", domain: "d"}],
        ])("rejects a registration with %s", (_, message) => {
            expect(() => parseRegisterRequest(message)).toThrow(ProtocolError);
        });

        it("accepts a 64-character uid", () => {
            expect(parseRegisterRequest({code: 100, uid: "x".repeat(64), token: "", domain: ""}).uid).toHaveLength(64);
        });

        it.each([
            ["a string port", {...natResponse.json!, devNatPort: "29291"}],
            ["a non-finite status", {...natResponse.json!, status: Number.NaN}],
            ["a missing devIp", {code: 12, status: 200}],
        ])("rejects a NAT response with %s", (_, message) => {
            expect(() => parseNatResponse(message)).toThrow(ProtocolError);
        });

        it("names the bad field", () => {
            expect(thrown(() => parseNatResponse({...natResponse.json!, devNatPort: "1"}))).toMatchObject({
                message: "code 12: field devNatPort is not a number",
            });
            expect(thrown(() => parseNatResponse({...natResponse.json!, devIp: 1}))).toMatchObject({
                message: "code 12: field devIp is not a string",
            });
        });

        it.each([
            ["no devTarget", {code: 51, status: 200}],
            ["an empty devTarget", {code: 51, devTarget: "", status: 200}],
            ["another code", {code: 50, devTarget: "x", status: 200}],
            ["no status", {code: 51, devTarget: "x"}],
        ])("rejects a probe response with %s", (_, message) => {
            expect(() => parseProbeResponse(message)).toThrow(ProtocolError);
        });

        it.each([
            ["no content", {code: 301, target: "t"}],
            ["a null content", {code: 301, target: "t", content: null}],
            ["an array content", {code: 301, target: "t", content: [1]}],
            ["a string content", {code: 301, target: "t", content: "x"}],
            ["a content without code", {code: 301, target: "t", content: {status: 1}}],
            ["another code", {code: 302, target: "t", content: {code: 3}}],
            ["no target", {code: 301, content: {code: 3}}],
        ])("rejects a forward with %s", (_, message) => {
            expect(() => parseForward(message)).toThrow(ProtocolError);
        });
    });

    describe("decodeJson", () => {
        it.each([
            ["invalid JSON", "{", "invalid JSON payload"],
            ["an array", "[1]", "JSON payload is not an object"],
            ["null", "null", "JSON payload is not an object"],
            ["a number", "5", "JSON payload is not an object"],
            ["no code", '{"status":1}', "JSON payload has no numeric code"],
            ["a string code", '{"code":"100"}', "JSON payload has no numeric code"],
            ["a fractional code", '{"code":1.5}', "JSON payload has no numeric code"],
        ])("rejects %s", (_, text, message) => {
            const payload = Buffer.from(text);
            const error = thrown(() => decodeJson(payload));
            expect(error).toBeInstanceOf(ProtocolError);
            expect(error).toMatchObject({message, raw: payload});
        });

        it("keeps the cause of a JSON syntax error", () => {
            expect((thrown(() => decodeJson(Buffer.from("{"))) as Error).cause).toBeInstanceOf(SyntaxError);
        });

        it("decodes from a view into a larger buffer", () => {
            const bytes = Buffer.from('xx{"code":53}yy');
            expect(decodeJson(bytes.subarray(2, 13))).toStrictEqual({code: 53});
        });

        it("[quirk] accepts invalid UTF-8 inside strings as replacement characters", () => {
            const payload = Buffer.concat([Buffer.from('{"code":52,"x":"'), Buffer.from([0xff]), Buffer.from('"}')]);
            expect(decodeJson(payload)).toStrictEqual({code: 52, x: "\ufffd"});
        });

        it("never throws anything but ProtocolError on random bytes or random JSON", () => {
            const jsonText = fc.oneof(
                fc.json(),
                fc
                    .record({code: fc.oneof(fc.integer(), fc.double(), fc.string())})
                    .map((value) => JSON.stringify(value)),
            );
            fc.assert(
                fc.property(
                    fc.oneof(
                        fc.uint8Array({maxLength: 64}),
                        jsonText.map((text) => Buffer.from(text)),
                    ),
                    (bytes) => {
                        try {
                            expect(Number.isInteger(decodeJson(bytes).code)).toBe(true);
                        } catch (error) {
                            expect(error).toBeInstanceOf(ProtocolError);
                        }
                    },
                ),
            );
        });
    });

    it("parse* never throw anything but ProtocolError on arbitrary JSON objects", () => {
        const parsers: [number, (message: WireMessage) => unknown][] = [
            [Code.registerRequest, parseRegisterRequest],
            [Code.natResponseFromDevice, parseNatResponse],
            [Code.probeResponse, parseProbeResponse],
            [Code.forward, parseForward],
        ];
        const anyValue = fc.jsonValue();
        fc.assert(
            fc.property(
                fc.constantFrom(...parsers),
                fc.dictionary(
                    fc.constantFrom(
                        "uid",
                        "token",
                        "domain",
                        "status",
                        "devIp",
                        "devPort",
                        "devNatIp",
                        "devNatPort",
                        "cliTarget",
                        "devTarget",
                        "target",
                        "content",
                        "x",
                    ),
                    anyValue,
                ),
                fc.boolean(),
                ([code, parse], fields, useOwnCode) => {
                    const message = {...fields, code: useOwnCode ? code : 7};
                    try {
                        parse(message);
                    } catch (error) {
                        expect(error).toBeInstanceOf(ProtocolError);
                    }
                },
            ),
        );
    });

    it("localUnixTimer adds the zone offset the way the app does", () => {
        // Date.getTimezoneOffset() is −120 in UTC+2: local seconds = UTC seconds + 7200.
        expect(localUnixTimer(1_677_886_134_999, -120)).toBe(1_677_886_134 + 7200);
        expect(localUnixTimer(1_677_886_134_000, 0)).toBe(1_677_886_134);
    });
});
