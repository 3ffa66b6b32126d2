import {describe, expect, it} from "vitest";
import {Cmd, MsgFlag} from "../../../src/protocol/commands.js";
import {stripAudioTrailer} from "../../../src/protocol/g711.js";
import {decodeJson} from "../../../src/protocol/messages.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";
import {AudioLoop, toneAlaw} from "../../../src/simulator/audioTone.js";
import {BootstrapError, parseConfCheck, parseHttpResponse} from "../../../src/simulator/bootstrapClient.js";
import {
    baseInfoContent,
    buildBootstrapRequest,
    CONF_CHECK_PATH,
    encodeAudioPacket,
    encodeForwardReplyPacket,
    encodeHeartbeatPacket,
    encodeNatResponsePacket,
    encodeProbeResponsePacket,
    encodeRegisterPacket,
    encodeUdpRequestPacket,
    randomLetters,
} from "../../../src/simulator/deviceMessages.js";
import {Prng} from "../../../src/simulator/prng.js";

describe("device messages", () => {
    it("encode the registration byte for byte as in the capture (fake-server-protocol.md §3)", () => {
        const expected = [
            "57000000", // payloadLen 87
            "0000", // cmd 0 (JSON)
            "00", // msgFlag 0
            "00", // dealFlag 0
            "0000000000000000", // forwardId 8 × 0x00
            "00000000", // pkgId 0
            Buffer.from(
                '{"code": 100, "uid": "0800c00128F8", "token": "91edf41f" ,"domain": "v720.naxclow.com"}',
            ).toString("hex"),
        ].join("");
        const packet = encodeRegisterPacket("0800c00128F8", "91edf41f", "v720.naxclow.com");
        expect(packet.length).toBe(107);
        expect(packet.toString("hex")).toBe(expected);
    });

    it("encode the heartbeat as 20 bytes with cmd 100 (§8.2)", () => {
        expect(encodeHeartbeatPacket().toString("hex")).toBe(
            [
                "00000000", // payloadLen 0
                "6400", // cmd 100
                "00", // msgFlag
                "00", // dealFlag
                "0000000000000000", // forwardId 8 × 0x00
                "00000000", // pkgId 0
            ].join(""),
        );
    });

    it("encode the bootstrap request exactly as captured: 154 bytes, no body (§3.1)", () => {
        const request = buildBootstrapRequest(
            CONF_CHECK_PATH,
            [
                ["devicesCode", "0800c00128F8"],
                ["random", "OPQRST"],
                ["token", "2d8c8b52f1"],
            ],
            "202212011602",
        );
        expect(request.toString("latin1")).toBe(
            "POST /app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8&random=OPQRST&token=2d8c8b52f1 HTTP/1.1\r\n" +
                "Host: v720.naxclow.com\r\n" +
                "version: 202212011602\r\n" +
                "\r\n",
        );
        expect(request.length).toBe(154);
    });

    it("pick six consecutive upper-case letters for random", () => {
        const prng = new Prng(3);
        for (let index = 0; index < 100; index += 1) {
            const letters = randomLetters(prng);
            expect(letters).toMatch(/^[A-Z]{6}$/);
            expect(letters.charCodeAt(5) - letters.charCodeAt(0)).toBe(5);
        }
    });

    it("encode code 20 as 32 bytes and 12/51/301 as parseable JSON with the camera's fields", () => {
        expect(encodeUdpRequestPacket().length).toBe(32);
        expect(decodeJson(decodeDatagram(encodeUdpRequestPacket()).payload)).toStrictEqual({code: 20});
        const nat = encodeNatResponsePacket({
            devIp: "10.42.0.1",
            devPort: 53_221,
            devNatIp: "10.42.0.28",
            devNatPort: 29_291,
            cliTarget: "00112233445566778899aabbccddeeff",
            cliToken: "55ABfb77",
        });
        expect(decodeJson(decodeDatagram(nat).payload)).toStrictEqual({
            code: 12,
            status: 200,
            devIp: "10.42.0.1",
            devPort: 53_221,
            devNatIp: "10.42.0.28",
            devNatPort: 29_291,
            cliTarget: "00112233445566778899aabbccddeeff",
            cliToken: "55ABfb77",
        });
        expect(decodeDatagram(encodeProbeResponsePacket("0800c0012345")).payload.toString()).toBe(
            '{"code":51,"devTarget":"0800c0012345","status":200}',
        );
        const info = {
            irLed: 1,
            devPower: 100,
            speedGrade: 1,
            moveAlert: 0,
            sdMoveMode: 0,
            wifiName: "intl-laptop",
            instLed: 1,
            sdDevStatus: 0,
            mirrorFlip: 0,
            version: "202212011602",
        };
        const reply = decodeDatagram(
            encodeForwardReplyPacket("00112233445566778899aabbccddeeff", baseInfoContent(info)),
        );
        // Field order as logged for firmware 202212011602 (fake-server-protocol.md §7).
        expect(reply.payload.toString()).toBe(
            '{"code": 301, "target": "00112233445566778899aabbccddeeff", "content": {"code": 4, "IrLed": 1, "devPower": 100, "speedGrade": 1, "moveAlert": 0, "sdMoveMode": 0, "wifiName": "intl-laptop", "instLed": 1, "sdDevStatus": 0, "mirrorFlip": 0, "version": "202212011602"}}',
        );
    });

    it("encode audio as cmd 4 msgFlag 255, optionally with the 5-byte trailer", () => {
        const samples = new AudioLoop(160).next();
        const plain = decodeDatagram(encodeAudioPacket(samples, 4242, false));
        expect(plain.header.command).toBe(Cmd.g711);
        expect(plain.header.msgFlag).toBe(MsgFlag.whole);
        expect(plain.header.packageId).toBe(4242);
        expect(plain.payload.equals(samples)).toBe(true);
        const trailed = decodeDatagram(encodeAudioPacket(samples, 4243, true));
        expect(trailed.payload.length).toBe(165);
        expect(stripAudioTrailer(trailed.payload).equals(samples)).toBe(true);
    });

    it("loop the one-second tone across packet boundaries", () => {
        const loop = new AudioLoop(3000);
        const joined = Buffer.concat([loop.next(), loop.next(), loop.next()]);
        const tone = toneAlaw();
        expect(tone.length).toBe(8000);
        expect(joined.subarray(0, 8000).equals(tone)).toBe(true);
        expect(joined.subarray(8000).equals(tone.subarray(0, 1000))).toBe(true);
        expect(() => new AudioLoop(0)).toThrow(RangeError);
    });
});

describe("bootstrap response parsing", () => {
    const body =
        '{"code":200,"message":"操作成功","data":{"tcpPort":29940,"uid":"0800c00128F8","isBind":"8","domain":"v720.naxclow.com","updateUrl":null,"host":"43.240.74.95","currTime":"1676097689","pwd":"91edf41f","version":null}}';
    const head = `HTTP/1.1 200 \r\nServer: nginx/1.14.0 (Ubuntu)\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n`;

    it("reads the real cloud's reply (§3.4, Content-Length in UTF-8 bytes)", () => {
        expect(Buffer.byteLength(body)).toBe(219);
        const response = parseHttpResponse(Buffer.from(head + body), false);
        expect(response?.status).toBe(200);
        expect(parseConfCheck(response?.body ?? Buffer.alloc(0))).toStrictEqual({
            host: "43.240.74.95",
            tcpPort: 29_940,
            pwd: "91edf41f",
            domain: "v720.naxclow.com",
        });
    });

    it("waits for the rest of a split response and handles chunked and close-delimited bodies", () => {
        const whole = Buffer.from(head + body);
        expect(parseHttpResponse(whole.subarray(0, 40), false)).toBeUndefined();
        expect(parseHttpResponse(whole.subarray(0, whole.length - 1), false)).toBeUndefined();
        const chunked = Buffer.from(
            `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`,
        );
        expect(parseHttpResponse(chunked, false)?.body.toString()).toBe("hello world");
        const delimited = Buffer.from("HTTP/1.0 200 OK\r\n\r\n{}");
        expect(parseHttpResponse(delimited, false)).toBeUndefined();
        expect(parseHttpResponse(delimited, true)?.body.toString()).toBe("{}");
    });

    it("rejects garbage with BootstrapError", () => {
        expect(() => parseHttpResponse(Buffer.from("SSH-2.0-OpenSSH\r\n\r\n"), false)).toThrow(BootstrapError);
        expect(() => parseConfCheck(Buffer.from("not json"))).toThrow(BootstrapError);
        expect(() => parseConfCheck(Buffer.from('{"code":200,"data":{"host":"x","tcpPort":0}}'))).toThrow(
            BootstrapError,
        );
        expect(parseConfCheck(Buffer.from('{"data":{"host":"10.0.0.1","tcpPort":"6123"}}'))).toStrictEqual({
            host: "10.0.0.1",
            tcpPort: 6123,
            pwd: "",
            domain: "v720.naxclow.com",
        });
    });
});
