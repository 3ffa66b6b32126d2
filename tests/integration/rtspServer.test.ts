/**
 * The RTSP server against raw clients over loopback, with a synthetic encoded source (no ffmpeg):
 * the full OPTIONS → DESCRIBE → SETUP → PLAY → TEARDOWN flow over TCP and UDP, status codes for bad
 * input (400, 401, 404, 454, 455, 461, 503), credentials, keep-alive and timeouts, and isolation.
 * tests/integration/rtspMedia.test.ts runs real ffmpeg/ffprobe/GStreamer end to end.
 */
import dgram from "node:dgram";
import {afterEach, describe, expect, it} from "vitest";
import {md5} from "../../src/rtsp/rtspAuth.js";
import {RtspServer, type RtspServerOptions} from "../../src/rtsp/rtspServer.js";
import type {RtspMediaSink, RtspOpenResult, RtspStreamInfo, RtspStreamSource} from "../../src/rtsp/streamSource.js";
import {silentLogger} from "../../src/util/log.js";
import {RawRtspClient} from "../support/rtspClient.js";

const SPS = Buffer.from("6742c01edb02800f6c0440", "hex");
const PPS = Buffer.from("68ce0fc8", "hex");
const INFO: RtspStreamInfo = {
    video: {codec: "h264", sps: SPS, pps: PPS},
    audio: {codec: "pcma", sampleRate: 8000, channels: 1},
};

/** Emits a 25 fps H.264-shaped stream (keyframe every 5th frame) and 20 ms A-law to every open sink. */
class FakeSource implements RtspStreamSource {
    leases = 0;
    readonly #sinks = new Set<RtspMediaSink>();
    #timer: NodeJS.Timeout | undefined;
    #frame = 0;
    frameBytes = 3000;

    openEncoded(cameraId: string, sink: RtspMediaSink): RtspOpenResult {
        if (cameraId.startsWith("unknown")) {
            return {ok: false, reason: "unknown-camera"};
        }
        const isOffline = cameraId.startsWith("offline");
        this.leases += 1;
        this.#sinks.add(sink);
        this.#timer ??= setInterval(() => this.#tick(), 40);
        let isClosed = false;
        return {
            ok: true,
            handle: {
                info: () => (isOffline ? undefined : INFO),
                whenInfo: (timeoutMs) =>
                    isOffline
                        ? new Promise((resolve) => setTimeout(() => resolve(undefined), Math.min(timeoutMs, 200)))
                        : Promise.resolve(INFO),
                close: () => {
                    if (!isClosed) {
                        isClosed = true;
                        this.leases -= 1;
                        this.#sinks.delete(sink);
                    }
                },
            },
        };
    }

    stop(): void {
        clearInterval(this.#timer);
    }

    #tick(): void {
        this.#frame += 1;
        const isKeyframe = this.#frame % 5 === 1;
        const slice = Buffer.alloc(this.frameBytes, this.#frame & 0xff);
        slice[0] = isKeyframe ? 0x65 : 0x41;
        const nowMs = Date.now();
        for (const sink of [...this.#sinks]) {
            sink.onVideo?.({nalUnits: [slice], isKeyframe, timestampMs: nowMs});
            sink.onAudio?.({data: Buffer.alloc(320, 0xd5), timestampMs: nowMs, samples: 320});
        }
    }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

async function server(
    options: Partial<RtspServerOptions> = {},
): Promise<{rtsp: RtspServer; source: FakeSource; url: (path: string) => string}> {
    const source = new FakeSource();
    const rtsp = new RtspServer(
        {
            host: "127.0.0.1",
            port: 0,
            auth: null,
            sessionTimeoutMs: 60_000,
            describeTimeoutMs: 2000,
            ...options,
        },
        source,
        silentLogger,
    );
    await rtsp.start();
    cleanups.push(async () => {
        source.stop();
        await rtsp.stop();
    });
    return {rtsp, source, url: (path) => `rtsp://127.0.0.1:${rtsp.port}/${path}`};
}

async function client(port: number): Promise<RawRtspClient> {
    const connected = await RawRtspClient.connect(port);
    cleanups.push(() => connected.close());
    return connected;
}

/** DESCRIBE + SETUP video (and audio) over TCP + PLAY; returns the session id. */
async function playTcp(rtsp: RawRtspClient, url: string, withAudio = false): Promise<string> {
    expect((await rtsp.request("DESCRIBE", url, {accept: "application/sdp"})).status).toBe(200);
    const setup = await rtsp.request("SETUP", `${url}/trackID=0`, {transport: "RTP/AVP/TCP;unicast;interleaved=0-1"});
    expect(setup.status).toBe(200);
    const session = (setup.headers.get("session") ?? "").split(";")[0] ?? "";
    if (withAudio) {
        const audio = await rtsp.request("SETUP", `${url}/trackID=1`, {
            transport: "RTP/AVP/TCP;unicast;interleaved=2-3",
            session: session,
        });
        expect(audio.status).toBe(200);
    }
    expect((await rtsp.request("PLAY", url, {session: session})).status).toBe(200);
    return session;
}

describe("RtspServer (synthetic source)", () => {
    it("answers OPTIONS with the methods it serves", async () => {
        const {rtsp} = await server();
        const response = await (await client(rtsp.port)).request("OPTIONS", "*");
        expect(response.status).toBe(200);
        expect(response.headers.get("public")).toContain("DESCRIBE, SETUP, PLAY");
    });

    it("plays over TCP interleaved: SDP, Session, RTP-Info, keyframe first with SPS/PPS, then TEARDOWN frees the source", async () => {
        const {rtsp, source, url} = await server();
        const viewer = await client(rtsp.port);
        const describe = await viewer.request("DESCRIBE", url("cam1"));
        expect(describe.headers.get("content-type")).toBe("application/sdp");
        expect(describe.headers.get("content-base")).toBe(`${url("cam1")}/`);
        expect(describe.body).toContain("sprop-parameter-sets=Z0LAHtsCgA9sBEA=,aM4PyA==");
        expect(describe.body).toContain("a=rtpmap:8 PCMA/8000");

        const setup = await viewer.request("SETUP", `${url("cam1")}/trackID=0`, {
            transport: "RTP/AVP/TCP;unicast;interleaved=0-1",
        });
        expect(setup.headers.get("transport")).toMatch(/^RTP\/AVP\/TCP;unicast;interleaved=0-1;ssrc=[0-9A-F]{8}$/);
        expect(setup.headers.get("session")).toMatch(/^[0-9A-F]{16};timeout=60$/);
        const session = (setup.headers.get("session") ?? "").split(";")[0] ?? "";
        const play = await viewer.request("PLAY", url("cam1"), {session: session});
        expect(play.status).toBe(200);
        expect(play.headers.get("rtp-info")).toMatch(
            /^url=rtsp:\/\/127\.0\.0\.1:\d+\/cam1\/trackID=0;seq=\d+;rtptime=\d+$/,
        );

        await expect.poll(() => viewer.packets(0), {timeout: 5000}).toBeGreaterThan(10);
        const packets = viewer.interleaved.get(0) ?? [];
        const first = packets[0] ?? Buffer.alloc(0);
        expect(first[0]).toBe(0x80);
        expect((first[1] ?? 0) & 0x7f).toBe(96);
        expect((first[12] ?? 0) & 0x1f).toBe(7); // SPS in front of the first (key)frame
        expect(viewer.packets(2)).toBe(0); // audio was not set up
        expect(rtsp.viewers("cam1")).toBe(1);

        expect((await viewer.request("TEARDOWN", url("cam1"), {session: session})).status).toBe(200);
        expect(rtsp.viewers("cam1")).toBe(0);
        expect(source.leases).toBe(0);
    });

    it("sends video and audio to two clients at once, each with its own SSRC", async () => {
        const {rtsp, url} = await server();
        const [a, b] = await Promise.all([client(rtsp.port), client(rtsp.port)]);
        await Promise.all([playTcp(a, url("cam1"), true), playTcp(b, url("cam1"), true)]);
        await expect
            .poll(() => Math.min(a.packets(0), b.packets(0), a.packets(2), b.packets(2)), {timeout: 5000})
            .toBeGreaterThan(5);
        const ssrc = (c: RawRtspClient): number => (c.interleaved.get(0)?.[0] ?? Buffer.alloc(12)).readUInt32BE(8);
        expect(ssrc(a)).not.toBe(ssrc(b));
        expect(rtsp.viewers("cam1")).toBe(2);
    });

    it("plays over UDP to the client's ports and takes RTCP from it as keep-alive", async () => {
        const {rtsp, url} = await server();
        const rtp = dgram.createSocket("udp4");
        const received: Buffer[] = [];
        rtp.on("message", (message) => received.push(message));
        await new Promise<void>((resolve) => rtp.bind(0, "127.0.0.1", () => resolve()));
        cleanups.push(() => {
            rtp.close();
        });
        const port = rtp.address().port;
        const viewer = await client(rtsp.port);
        await viewer.request("DESCRIBE", url("cam1"));
        const setup = await viewer.request("SETUP", `${url("cam1")}/trackID=0`, {
            transport: `RTP/AVP;unicast;client_port=${port}-${port + 1}`,
        });
        expect(setup.status).toBe(200);
        expect(setup.headers.get("transport")).toMatch(
            new RegExp(`^RTP/AVP;unicast;client_port=${port}-${port + 1};server_port=\\d+-\\d+;ssrc=`),
        );
        const session = (setup.headers.get("session") ?? "").split(";")[0] ?? "";
        expect((await viewer.request("PLAY", url("cam1"), {session: session})).status).toBe(200);
        await expect.poll(() => received.length, {timeout: 5000}).toBeGreaterThan(10);
        expect((received[0]?.[1] ?? 0) & 0x7f).toBe(96);
    });

    it.each([
        {name: "an unknown camera", uri: "unknown1", status: 404},
        {name: "a path with too many segments", uri: "cam1/a/b", status: 404},
        {name: "a camera whose encoder never starts", uri: "offline1", status: 503},
    ])("answers DESCRIBE of $name with $status", async ({uri, status}) => {
        const {rtsp, url} = await server({describeTimeoutMs: 200});
        expect((await (await client(rtsp.port)).request("DESCRIBE", url(uri))).status).toBe(status);
    });

    it("answers session errors with 454 and state errors with 455", async () => {
        const {rtsp, url} = await server();
        const viewer = await client(rtsp.port);
        expect((await viewer.request("PLAY", url("cam1"))).status).toBe(454);
        expect((await viewer.request("PLAY", url("cam1"), {session: "DEADBEEFDEADBEEF"})).status).toBe(454);
        expect((await viewer.request("TEARDOWN", url("cam1"), {session: "DEADBEEFDEADBEEF"})).status).toBe(454);
        expect((await viewer.request("GET_PARAMETER", url("cam1"), {session: "nope"})).status).toBe(454);
        const session = await playTcp(viewer, url("cam1"));
        const again = await viewer.request("SETUP", `${url("cam1")}/trackID=1`, {
            transport: "RTP/AVP/TCP;unicast;interleaved=2-3",
            session: session,
        });
        expect(again.status).toBe(455);
    });

    it.each([
        {name: "multicast", transport: "RTP/AVP;multicast;port=5000-5001"},
        {name: "record mode", transport: "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"},
        {name: "UDP without client_port", transport: "RTP/AVP;unicast"},
    ])("answers SETUP with $name with 461", async ({transport}) => {
        const {rtsp, url} = await server();
        const viewer = await client(rtsp.port);
        expect((await viewer.request("SETUP", `${url("cam1")}/trackID=0`, {transport: transport})).status).toBe(461);
        expect((await viewer.request("SETUP", `${url("cam1")}/trackID=0`)).status).toBe(461);
        expect((await viewer.request("SETUP", `${url("cam1")}/trackID=7`, {transport: "RTP/AVP/TCP"})).status).toBe(
            404,
        );
    });

    it("answers malformed requests with 400 and goes on; an endless head gets 400 and the connection closes", async () => {
        const {rtsp} = await server();
        const viewer = await client(rtsp.port);
        expect((await viewer.sendRaw("GARBAGE\r\n\r\n")).status).toBe(400);
        expect((await viewer.sendRaw("OPTIONS * RTSP/1.0\r\nCSeq: x\r\n\r\n")).status).toBe(400);
        expect((await viewer.request("OPTIONS", "*")).status).toBe(200);
        expect((await viewer.request("FLY", "*")).status).toBe(501);
        const flood = await client(rtsp.port);
        const answer = await flood.sendRaw(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: ${"a".repeat(20_000)}`);
        expect(answer.status).toBe(400);
        await flood.waitClosed();
    });

    it("asks for credentials (Digest, Basic) and accepts either", async () => {
        const {rtsp, url} = await server({auth: {username: "u", password: "p"}});
        const viewer = await client(rtsp.port);
        expect((await viewer.request("OPTIONS", "*")).status).toBe(200);
        const challenge = await viewer.request("DESCRIBE", url("cam1"));
        expect(challenge.status).toBe(401);
        const challenges = (challenge.headers.get("www-authenticate") ?? "").split("\n");
        expect(challenges[1]).toBe('Basic realm="v720-bridge"');
        const wrong = `Basic ${Buffer.from("u:x").toString("base64")}`;
        expect((await viewer.request("DESCRIBE", url("cam1"), {authorization: wrong})).status).toBe(401);
        const basic = `Basic ${Buffer.from("u:p").toString("base64")}`;
        expect((await viewer.request("DESCRIBE", url("cam1"), {authorization: basic})).status).toBe(200);

        const nonce = /nonce="([^"]+)"/.exec(challenges[0] ?? "")?.[1] ?? "";
        const response = md5(`${md5("u:v720-bridge:p")}:${nonce}:${md5(`DESCRIBE:${url("cam1")}`)}`);
        const digest = `Digest username="u", realm="v720-bridge", nonce="${nonce}", uri="${url("cam1")}", response="${response}"`;
        expect((await viewer.request("DESCRIBE", url("cam1"), {authorization: digest})).status).toBe(200);
    });

    it("times out a session without keep-alive and closes its connection; keep-alives keep another one", async () => {
        const {rtsp, url, source} = await server({sessionTimeoutMs: 600});
        const silent = await client(rtsp.port);
        const alive = await client(rtsp.port);
        const aliveSession = await playTcp(alive, url("cam1"));
        await playTcp(silent, url("cam1"));
        const keepAlive = setInterval(() => {
            alive.request("GET_PARAMETER", url("cam1"), {session: aliveSession}).catch(() => undefined);
        }, 150);
        cleanups.push(() => clearInterval(keepAlive));
        await silent.waitClosed(5000);
        expect(alive.isClosed).toBe(false);
        const before = alive.packets(0);
        await expect.poll(() => alive.packets(0), {timeout: 3000}).toBeGreaterThan(before + 5);
        expect(rtsp.stats().sessionTimeouts).toBe(1);
        expect(source.leases).toBe(1);
    });

    it("keeps streaming to a healthy client while another stops reading or vanishes", async () => {
        const {rtsp, url, source} = await server({maxQueuedBytes: 64 * 1024});
        source.frameBytes = 60_000;
        const stalled = await client(rtsp.port);
        await playTcp(stalled, url("cam1"));
        stalled.socket.pause();
        const vanished = await client(rtsp.port);
        await playTcp(vanished, url("cam1"));
        const healthy = await client(rtsp.port);
        await playTcp(healthy, url("cam1"));
        vanished.socket.destroy();
        await expect.poll(() => healthy.packets(0), {timeout: 5000}).toBeGreaterThan(400);
        await expect.poll(() => rtsp.viewers("cam1")).toBe(2);
        expect(healthy.isClosed).toBe(false);
    });
});
