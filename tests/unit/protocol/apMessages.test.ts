import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {
    AP_DEV_TARGET,
    ApCode,
    buildApBaseInfoContent,
    buildApCommand,
    buildApConnect,
    buildRebootContent,
    buildSdDatesRequest,
    buildSdFileRequest,
    buildSdFilesRequest,
    buildSdStatusContent,
    buildSetWifiContent,
    decodeSdCatalogue,
    encodeLiveMotionPacket,
    encodeSdCatalogue,
    isSdDate,
    MAX_SD_CATALOGUE_BYTES,
    maskFromMinutes,
    minutesFromMask,
    parseApCommandReply,
    parseApConnectReply,
    parseSdDatesReply,
    parseSdFileInfoReply,
    parseSdFilesReply,
    parseSdStatusReply,
} from "../../../src/protocol/apMessages.js";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {decodeJson, encodeJson, type WireMessage} from "../../../src/protocol/messages.js";
import {thrown} from "./thrown.js";

/** The catalogue example of protocol-notes.md §11.3 (hNumb 9 in the notes; one option shown). */
const NOTES_XML =
    '<video><catalogue date="20230124" hNumb="9"><option hours="2" minBin="864409584620273472"/></catalogue></video>';
const NOTES_MINUTES = [
    6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 34, 35, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 49, 50, 51, 52, 53, 54, 55, 56, 57, 59,
];

const parse = (json: string): WireMessage => decodeJson(Buffer.from(json));

describe("AP mode requests (protocol-notes.md §11)", () => {
    it("encodes the header-only cmd 115 that opens a session", () => {
        expect(encodeLiveMotionPacket().toString("hex")).toBe("00000000730000003030303030303030" + "00000000");
    });

    it("builds the 501 login exactly as §11.1 step 3 shows it", () => {
        expect(encodeJson(buildApConnect("This is TEST token", 1_675_206_015)).toString()).toBe(
            '{"code":501,"target":"deadbeef","token":"This is TEST token","unixTimer":1675206015}',
        );
    });

    it("wraps commands in 502 with devTarget inside the content (§11.2)", () => {
        expect(buildApCommand(buildSetWifiContent("Home", "secret123"))).toStrictEqual({
            code: 502,
            content: {code: 204, s: "Home", p: "secret123", devTarget: AP_DEV_TARGET},
        });
        expect(buildApCommand(buildRebootContent())).toStrictEqual({
            code: 502,
            content: {code: 299, devTarget: "deadbeef"},
        });
        expect(buildApCommand(buildApBaseInfoContent(7))).toStrictEqual({
            code: 502,
            content: {code: 4, unixTimer: 7, devTarget: "deadbeef"},
        });
        expect(buildApCommand(buildSdStatusContent())).toStrictEqual({
            code: 502,
            content: {code: 218, devTarget: "deadbeef"},
        });
    });

    it("builds the top-level SD requests 400–412 with devTarget (§11.3)", () => {
        const key = {date: 20230124, hours: 2, minute: 5};
        expect(buildSdDatesRequest()).toStrictEqual({code: 400, devTarget: "deadbeef"});
        expect(buildSdFilesRequest(20230124)).toStrictEqual({code: 402, devTarget: "deadbeef", date: 20230124});
        for (const code of [ApCode.sdFileInfo, ApCode.sdDownload, ApCode.sdStop, ApCode.sdDelete] as const) {
            expect(buildSdFileRequest(code, key)).toStrictEqual({
                code,
                devTarget: "deadbeef",
                date: 20230124,
                hours: 2,
                minute: 5,
            });
        }
    });
});

describe("AP mode replies", () => {
    it("parses the 501 reply with the camera's spacing", () => {
        expect(parseApConnectReply(parse('{ "code":501, "target":"deadbeef","status":200}'))).toStrictEqual({
            status: 200,
        });
        expect(thrown(() => parseApConnectReply(parse('{"code":501}')))).toBeInstanceOf(ProtocolError);
        expect(thrown(() => parseApConnectReply(parse('{"code":502,"status":200}')))).toBeInstanceOf(ProtocolError);
    });

    it("parses a 502 reply's content and rejects one without", () => {
        expect(parseApCommandReply(parse('{"code": 502, "content": {"code": 218, "sdDevStatus": 1}}'))).toStrictEqual({
            code: 218,
            sdDevStatus: 1,
        });
        for (const bad of ['{"code":502}', '{"code":502,"content":[1]}', '{"code":502,"content":{"x":1}}']) {
            expect(thrown(() => parseApCommandReply(parse(bad)))).toBeInstanceOf(ProtocolError);
        }
    });

    it("parses 401 dates as intx82 reads them", () => {
        const reply = parse(
            '{"code":401,"status":200,"dateNum":3,"devId":"0800c00128F8","forwardId":"","dates":[20230123,20230124,"20230125"]}',
        );
        expect(parseSdDatesReply(reply)).toStrictEqual({status: 200, dates: [20230123, 20230124, 20230125]});
        expect(parseSdDatesReply(parse('{"code":401,"status":-1}'))).toStrictEqual({status: -1, dates: []});
        expect(thrown(() => parseSdDatesReply(parse('{"code":401,"status":200}')))).toMatchObject({
            message: "401 reply without a dates list",
        });
        expect(thrown(() => parseSdDatesReply(parse('{"code":401,"dates":[20231332]}')))).toMatchObject({
            message: "dates[0] is not a YYYYMMDD date: 20231332",
        });
    });

    it("parses 403, 405, 407 and friends", () => {
        expect(parseSdFilesReply(parse('{"code":403,"status":200,"date":20230124,"fileSize":120}'))).toStrictEqual({
            status: 200,
            fileSize: 120,
        });
        expect(parseSdFilesReply(parse('{"code":403}'))).toStrictEqual({status: undefined, fileSize: undefined});
        expect(
            parseSdFileInfoReply(parse('{"code":405,"fileName":"/sd/20230124/02/05.avi","fileSize":"1234567"}')),
        ).toStrictEqual({status: undefined, fileName: "/sd/20230124/02/05.avi", fileSize: 1_234_567});
        expect(parseSdFileInfoReply(parse('{"code":405,"status":200,"fileName":7,"fileSize":-1}'))).toStrictEqual({
            status: 200,
            fileName: undefined,
            fileSize: -1,
        });
        expect(thrown(() => parseSdFileInfoReply(parse('{"code":405,"fileSize":"big"}')))).toMatchObject({
            message: "code 405: field fileSize is not a number",
        });
        expect(parseSdStatusReply(parse('{"code":407,"status":200}'), ApCode.sdDownloadReply)).toStrictEqual({
            status: 200,
        });
        expect(thrown(() => parseSdStatusReply(parse('{"code":409}'), ApCode.sdDownloadReply))).toBeInstanceOf(
            ProtocolError,
        );
    });
});

describe("SD catalogue (cmd 8 XML)", () => {
    it("decodes the §11.3 example: bit m of minBin is minute m", () => {
        expect(decodeSdCatalogue(Buffer.from(NOTES_XML))).toStrictEqual({
            date: 20230124,
            hours: [{hour: 2, minutes: NOTES_MINUTES}],
        });
    });

    it("accepts free attribute order, whitespace and explicit end tags", () => {
        const xml = `<?xml version="1.0"?>\n<video>\n <catalogue hNumb = "2" date="20230101" >\n  <option minBin="1" hours="0"></option>\n  <option hours="23" minBin="${(1n << 59n).toString()}" />\n </catalogue>\n</video>`;
        expect(decodeSdCatalogue(Buffer.from(xml))).toStrictEqual({
            date: 20230101,
            hours: [
                {hour: 0, minutes: [0]},
                {hour: 23, minutes: [59]},
            ],
        });
    });

    it("ignores bits 60–63 and accepts the largest 64-bit mask", () => {
        const xml = `<video><catalogue date="20230101"><option hours="1" minBin="${((1n << 64n) - 1n).toString()}"/></catalogue></video>`;
        expect(decodeSdCatalogue(Buffer.from(xml)).hours[0]?.minutes).toHaveLength(60);
    });

    it("encodes what it decodes (the simulator side)", () => {
        const catalogue = {
            date: 20230124,
            hours: [
                {hour: 2, minutes: NOTES_MINUTES},
                {hour: 3, minutes: []},
                {hour: 14, minutes: [0, 59]},
            ],
        };
        const xml = encodeSdCatalogue(catalogue);
        expect(xml.toString()).toBe(
            `<video><catalogue date="20230124" hNumb="2"><option hours="2" minBin="864409584620273472"/><option hours="14" minBin="${((1n << 59n) | 1n).toString()}"/></catalogue></video>`,
        );
        expect(decodeSdCatalogue(xml)).toStrictEqual({...catalogue, hours: [catalogue.hours[0], catalogue.hours[2]]});
    });

    it.each([
        {name: "no catalogue", xml: "<video></video>", text: "without a <catalogue> element"},
        {name: "no date", xml: '<video><catalogue hNumb="0"></catalogue></video>', text: 'without date="…"'},
        {name: "a bad date", xml: '<catalogue date="20231399">', text: "catalogue date is not a YYYYMMDD date"},
        {
            name: "an hour of 24",
            xml: '<catalogue date="20230101"><option hours="24" minBin="1"/>',
            text: '"24" is not 0–23',
        },
        {
            name: "a non-numeric hour",
            xml: '<catalogue date="20230101"><option hours="x" minBin="1"/>',
            text: '"x" is not 0–23',
        },
        {name: "a missing minBin", xml: '<catalogue date="20230101"><option hours="1"/>', text: 'without minBin="…"'},
        {
            name: "a mask over 64 bits",
            xml: `<catalogue date="20230101"><option hours="1" minBin="${(1n << 64n).toString()}"/>`,
            text: "is not a 64-bit number",
        },
        {name: "a negative mask", xml: '<catalogue date="20230101"><option hours="1" minBin="-1"/>', text: "64-bit"},
    ])("rejects $name with ProtocolError", ({xml, text}) => {
        const error = thrown(() => decodeSdCatalogue(Buffer.from(xml)));
        expect(error).toBeInstanceOf(ProtocolError);
        expect((error as ProtocolError).message).toContain(text);
    });

    it("rejects a catalogue larger than MAX_SD_CATALOGUE_BYTES", () => {
        expect(thrown(() => decodeSdCatalogue(Buffer.alloc(MAX_SD_CATALOGUE_BYTES + 1, 0x20)))).toBeInstanceOf(
            ProtocolError,
        );
    });

    it("only ever throws ProtocolError on random text", () => {
        fc.assert(
            fc.property(fc.string({maxLength: 200}), (text) => {
                for (const xml of [text, `<catalogue date="20230101">${text}`, `<option ${text}/>`]) {
                    try {
                        decodeSdCatalogue(Buffer.from(xml));
                    } catch (error) {
                        expect(error).toBeInstanceOf(ProtocolError);
                    }
                }
            }),
        );
    });

    it("maps minutes to masks and back", () => {
        fc.assert(
            fc.property(fc.uniqueArray(fc.integer({min: 0, max: 59})), (minutes) => {
                expect(minutesFromMask(maskFromMinutes(minutes))).toStrictEqual([...minutes].sort((a, b) => a - b));
            }),
        );
        expect(() => maskFromMinutes([60])).toThrow(RangeError);
        expect(() => maskFromMinutes([1.5])).toThrow(RangeError);
    });

    it("checks YYYYMMDD dates", () => {
        expect([20230124, 19700101, 99991231].every(isSdDate)).toBe(true);
        expect([20230001, 20231301, 20230100, 20230132, 2023012, "20230124", 20230124.5].some(isSdDate)).toBe(false);
    });
});
