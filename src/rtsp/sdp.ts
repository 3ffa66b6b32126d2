/**
 * PURE SDP (RFC 8866) for a DESCRIBE answer: H.264 (RFC 6184 §8.1: packetization-mode 1,
 * profile-level-id and sprop-parameter-sets from the encoder's SPS/PPS) plus AAC (RFC 3640
 * mpeg4-generic AAC-hbr), PCMA (RFC 3551 static PT 8) or Opus (RFC 7587).
 */
import type {RtspAudioInfo, RtspStreamInfo} from "./streamSource.js";

export const VIDEO_PAYLOAD_TYPE = 96;
export const AAC_PAYLOAD_TYPE = 97;
export const OPUS_PAYLOAD_TYPE = 111;
export const PCMA_PAYLOAD_TYPE = 8;
export const VIDEO_CLOCK_RATE = 90_000;

export interface SdpInput {
    readonly sessionId: string;
    /** Address in the `o=` line (the server's address on this connection). */
    readonly originAddress: string;
    readonly sessionName: string;
    readonly stream: RtspStreamInfo;
}

/** Track control names, by track index (0 = video, 1 = audio). */
export function trackControl(index: number): string {
    return `trackID=${index}`;
}

export function audioPayloadType(audio: RtspAudioInfo): number {
    switch (audio.codec) {
        case "aac":
            return AAC_PAYLOAD_TYPE;
        case "pcma":
            return PCMA_PAYLOAD_TYPE;
        case "opus":
            return OPUS_PAYLOAD_TYPE;
        default:
            return AAC_PAYLOAD_TYPE;
    }
}

export function buildSdp(input: SdpInput): string {
    const family = input.originAddress.includes(":") ? "IP6" : "IP4";
    const lines = [
        "v=0",
        `o=- ${input.sessionId} 1 IN ${family} ${input.originAddress}`,
        `s=${input.sessionName.replace(/[\r\n]/g, " ")}`,
        `c=IN ${family} ${family === "IP6" ? "::" : "0.0.0.0"}`,
        "t=0 0",
        "a=tool:v720-bridge",
        "a=control:*",
        "a=range:npt=0-",
    ];
    const {sps, pps} = input.stream.video;
    const profileLevelId = sps.subarray(1, 4).toString("hex").toUpperCase().padEnd(6, "0");
    lines.push(
        `m=video 0 RTP/AVP ${VIDEO_PAYLOAD_TYPE}`,
        `a=rtpmap:${VIDEO_PAYLOAD_TYPE} H264/${VIDEO_CLOCK_RATE}`,
        `a=fmtp:${VIDEO_PAYLOAD_TYPE} packetization-mode=1;profile-level-id=${profileLevelId};` +
            `sprop-parameter-sets=${sps.toString("base64")},${pps.toString("base64")}`,
        `a=control:${trackControl(0)}`,
    );
    const audio = input.stream.audio;
    if (audio !== null) {
        const pt = audioPayloadType(audio);
        lines.push(`m=audio 0 RTP/AVP ${pt}`);
        switch (audio.codec) {
            case "aac":
                lines.push(
                    `a=rtpmap:${pt} MPEG4-GENERIC/${audio.sampleRate}/${audio.channels}`,
                    `a=fmtp:${pt} streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;` +
                        `indexdeltalength=3;config=${audio.config.toString("hex").toUpperCase()}`,
                );
                break;
            case "pcma":
                lines.push(`a=rtpmap:${pt} PCMA/8000`);
                break;
            case "opus":
                lines.push(
                    `a=rtpmap:${pt} opus/48000/2`,
                    `a=fmtp:${pt} sprop-stereo=${audio.channels > 1 ? 1 : 0};useinbandfec=0`,
                );
                break;
            default:
                break;
        }
        lines.push(`a=control:${trackControl(1)}`);
    }
    return `${lines.join("\r\n")}\r\n`;
}

/** Clock rate of a track's RTP timestamps. */
export function audioClockRate(audio: RtspAudioInfo): number {
    return audio.codec === "opus" ? 48_000 : audio.sampleRate;
}
