import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {buildRtspResponse, type RtspParseEvent, RtspRequestParser} from "../../../src/rtsp/rtspMessage.js";

const DESCRIBE = "DESCRIBE rtsp://127.0.0.1:8554/0800c0000001 RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n";

function parse(text: string | Buffer, parser = new RtspRequestParser()): RtspParseEvent[] {
    return parser.push(typeof text === "string" ? Buffer.from(text, "latin1") : text);
}

describe("RtspRequestParser", () => {
    it("parses a request with lower-cased header names", () => {
        const [event] = parse(DESCRIBE);
        expect(event).toMatchObject({
            kind: "request",
            request: {method: "DESCRIBE", uri: "rtsp://127.0.0.1:8554/0800c0000001", cseq: 2},
        });
        if (event?.kind === "request") {
            expect(event.request.headers.get("accept")).toBe("application/sdp");
            expect(event.request.body.length).toBe(0);
        }
    });

    it("parses two pipelined requests and an interleaved RTCP frame between them", () => {
        const rtcp = Buffer.from([0x24, 1, 0, 4, 0x81, 0xc9, 0, 1]);
        const events = parse(
            Buffer.concat([Buffer.from(DESCRIBE), rtcp, Buffer.from(DESCRIBE.replace("CSeq: 2", "CSeq: 3"))]),
        );
        expect(events.map((event) => event.kind)).toEqual(["request", "interleaved", "request"]);
        expect(events[1]).toStrictEqual({kind: "interleaved", channel: 1, payload: Buffer.from([0x81, 0xc9, 0, 1])});
    });

    it("waits for the rest of a request split byte by byte", () => {
        const parser = new RtspRequestParser();
        const events: RtspParseEvent[] = [];
        for (const byte of Buffer.from(DESCRIBE)) {
            events.push(...parser.push(Buffer.from([byte])));
        }
        expect(events).toHaveLength(1);
        expect(events[0]?.kind).toBe("request");
    });

    it("reads a body by Content-Length", () => {
        const [event] = parse("SET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 5\r\n\r\nhello");
        expect(event?.kind === "request" && event.request.body.toString()).toBe("hello");
    });

    it("accepts bare LF line ends", () => {
        expect(parse("OPTIONS * RTSP/1.0\nCSeq: 1\n\n")[0]?.kind).toBe("request");
    });

    it.each([
        {name: "a malformed request line", text: "HELLO\r\nCSeq: 1\r\n\r\n", status: 400, cseq: 1},
        {name: "a missing CSeq", text: "OPTIONS * RTSP/1.0\r\n\r\n", status: 400, cseq: undefined},
        {name: "a non-numeric CSeq", text: "OPTIONS * RTSP/1.0\r\nCSeq: abc\r\n\r\n", status: 400, cseq: undefined},
        {
            name: "a header line without colon",
            text: "OPTIONS * RTSP/1.0\r\nCSeq: 4\r\nbroken\r\n\r\n",
            status: 400,
            cseq: 4,
        },
        {name: "RTSP/2.0", text: "OPTIONS * RTSP/2.0\r\nCSeq: 5\r\n\r\n", status: 505, cseq: 5},
    ])("answers $name with $status and keeps the connection", ({text, status, cseq}) => {
        const parser = new RtspRequestParser();
        const [event] = parse(text, parser);
        expect(event).toStrictEqual({kind: "error", status, reason: expect.any(String), cseq, isFatal: false});
        expect(parse(DESCRIBE, parser)[0]?.kind).toBe("request");
    });

    it("closes on a head longer than the limit", () => {
        const parser = new RtspRequestParser({maxHeaderBytes: 256});
        const events = parse(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Long: ${"a".repeat(400)}`, parser);
        expect(events).toStrictEqual([
            {kind: "error", status: 400, reason: "request head too long", cseq: undefined, isFatal: true},
        ]);
        expect(parse(DESCRIBE, parser)).toEqual([]);
    });

    it("closes on a bad or too large Content-Length", () => {
        expect(parse("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -3\r\n\r\n")[0]).toMatchObject({
            status: 400,
            isFatal: true,
        });
        expect(parse("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n")[0]).toMatchObject({
            status: 413,
            cseq: 1,
            isFatal: true,
        });
    });

    it("never throws on random bytes", () => {
        fc.assert(
            fc.property(fc.array(fc.uint8Array({maxLength: 300}), {maxLength: 5}), (chunks) => {
                const parser = new RtspRequestParser({maxHeaderBytes: 512});
                for (const chunk of chunks) {
                    parser.push(Buffer.from(chunk));
                }
            }),
        );
    });
});

describe("buildRtspResponse", () => {
    it("writes the status line, CSeq first, headers and a sized body", () => {
        const text = buildRtspResponse(200, 7, [["Content-Type", "application/sdp"]], "v=0\r\n").toString();
        expect(text).toBe(
            "RTSP/1.0 200 OK\r\nCSeq: 7\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
        );
    });

    it("omits CSeq when unknown and strips line breaks from header values", () => {
        expect(buildRtspResponse(454, undefined, [["X", "a\r\nb"]]).toString()).toBe(
            "RTSP/1.0 454 Session Not Found\r\nX: a  b\r\n\r\n",
        );
    });
});
