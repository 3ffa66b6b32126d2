import {describe, expect, it} from "vitest";
import {parseRtspTarget} from "../../../src/rtsp/rtspServer.js";
import {chooseTransport, formatTransport, parseTransportHeader} from "../../../src/rtsp/rtspTransport.js";

describe("Transport negotiation", () => {
    it("takes TCP interleaved channels as offered", () => {
        const chosen = chooseTransport(parseTransportHeader("RTP/AVP/TCP;unicast;interleaved=2-3"), 1, true);
        expect(chosen?.transport).toEqual({kind: "tcp", rtpChannel: 2, rtcpChannel: 3});
    });

    it("assigns channels 2n, 2n+1 when TCP comes without interleaved=", () => {
        expect(chooseTransport(parseTransportHeader("RTP/AVP/TCP;unicast"), 1, true)?.transport).toEqual({
            kind: "tcp",
            rtpChannel: 2,
            rtcpChannel: 3,
        });
    });

    it("takes UDP client ports, and skips UDP when the server has no UDP socket", () => {
        const offers = parseTransportHeader(
            "RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1",
        );
        expect(chooseTransport(offers, 0, true)?.transport).toEqual({kind: "udp", rtpPort: 5000, rtcpPort: 5001});
        expect(chooseTransport(offers, 0, false)?.transport).toEqual({kind: "tcp", rtpChannel: 0, rtcpChannel: 1});
    });

    it.each([
        "RTP/AVP;multicast;port=5000-5001",
        "RTP/AVP;unicast",
        "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record",
        "RTP/SAVP;unicast;client_port=5000-5001",
        "RAW/RAW/UDP;unicast;client_port=5000-5001",
        "RTP/AVP;unicast;client_port=99999-100000",
    ])("refuses %s (→ 461)", (header) => {
        expect(chooseTransport(parseTransportHeader(header), 0, true)).toBeUndefined();
    });

    it("formats the answer with server ports and SSRC", () => {
        expect(formatTransport({kind: "udp", rtpPort: 5000, rtcpPort: 5001}, 0xab, [6970, 6971])).toBe(
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=000000AB",
        );
        expect(formatTransport({kind: "tcp", rtpChannel: 0, rtcpChannel: 1}, 1, undefined)).toBe(
            "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=00000001",
        );
    });
});

describe("parseRtspTarget", () => {
    it.each([
        ["rtsp://127.0.0.1:8554/0800c0000001", {cameraId: "0800c0000001", track: undefined}],
        ["rtsp://user:pw@host/0800c0000001/", {cameraId: "0800c0000001", track: undefined}],
        ["rtsp://host:8554/0800c0000001/trackID=1", {cameraId: "0800c0000001", track: 1}],
        ["/0800c0000001?transport=tcp", {cameraId: "0800c0000001", track: undefined}],
        ["*", "*"],
    ] as const)("%s", (uri, target) => {
        expect(parseRtspTarget(uri)).toEqual(target);
    });

    it.each([
        "rtsp://host/",
        "rtsp://host/a/b/c",
        "rtsp://host/cam/track1",
        "rtsp://host/%ZZ",
        "http:x",
        "rtsp://host/a%2Fb",
    ])("rejects %s", (uri) => {
        expect(parseRtspTarget(uri)).toBeUndefined();
    });
});
