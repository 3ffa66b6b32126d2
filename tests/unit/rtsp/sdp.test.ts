import {describe, expect, it} from "vitest";
import {buildSdp} from "../../../src/rtsp/sdp.js";
import type {RtspStreamInfo} from "../../../src/rtsp/streamSource.js";

const video = {
    codec: "h264",
    sps: Buffer.from("6742c01edb02800f6c0440", "hex"),
    pps: Buffer.from("68ce0fc8", "hex"),
} as const;

describe("buildSdp", () => {
    it("describes H.264 + AAC with sprop-parameter-sets and the AAC config", () => {
        const stream: RtspStreamInfo = {
            video,
            audio: {codec: "aac", sampleRate: 16_000, channels: 1, config: Buffer.from([0x14, 0x08])},
        };
        expect(
            buildSdp({sessionId: "123", originAddress: "127.0.0.1", sessionName: "cam1", stream}).split("\r\n"),
        ).toEqual([
            "v=0",
            "o=- 123 1 IN IP4 127.0.0.1",
            "s=cam1",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "a=tool:v720-bridge",
            "a=control:*",
            "a=range:npt=0-",
            "m=video 0 RTP/AVP 96",
            "a=rtpmap:96 H264/90000",
            "a=fmtp:96 packetization-mode=1;profile-level-id=42C01E;sprop-parameter-sets=Z0LAHtsCgA9sBEA=,aM4PyA==",
            "a=control:trackID=0",
            "m=audio 0 RTP/AVP 97",
            "a=rtpmap:97 MPEG4-GENERIC/16000/1",
            "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1408",
            "a=control:trackID=1",
            "",
        ]);
    });

    it("uses static payload type 8 for PCMA", () => {
        const sdp = buildSdp({
            sessionId: "1",
            originAddress: "::1",
            sessionName: "x",
            stream: {video, audio: {codec: "pcma", sampleRate: 8000, channels: 1}},
        });
        expect(sdp).toContain("o=- 1 1 IN IP6 ::1\r\n");
        expect(sdp).toContain("m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=control:trackID=1\r\n");
    });

    it("declares Opus as opus/48000/2 (RFC 7587) and a video-only stream has one m= line", () => {
        const opus = buildSdp({
            sessionId: "1",
            originAddress: "10.0.0.2",
            sessionName: "x",
            stream: {video, audio: {codec: "opus", sampleRate: 48000, channels: 1}},
        });
        expect(opus).toContain("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 sprop-stereo=0;useinbandfec=0\r\n");
        const videoOnly = buildSdp({
            sessionId: "1",
            originAddress: "10.0.0.2",
            sessionName: "x",
            stream: {video, audio: null},
        });
        expect(videoOnly.match(/^m=/gm)).toHaveLength(1);
    });
});
