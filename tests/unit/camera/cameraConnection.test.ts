import {duplexPair} from "node:stream";
import {afterEach, beforeEach, describe, expect, it, vi} from "vitest";
import {
    CameraConnection,
    type CameraConnectionOptions,
    type CameraLink,
    type ConnectionHandler,
    type ConnectionListener,
} from "../../../src/camera/cameraConnection.js";
import {CameraCounters} from "../../../src/camera/cameraCounters.js";
import {Cmd} from "../../../src/protocol/commands.js";
import {encodeHeader} from "../../../src/protocol/header.js";
import {encodeJsonPacket, type RegisterRequest, type WireMessage} from "../../../src/protocol/messages.js";
import {encodePacket, type Packet} from "../../../src/protocol/packet.js";
import {TcpFramer} from "../../../src/protocol/tcpFramer.js";
import {silentLogger} from "../../../src/util/log.js";
import {RateLimitedCounter} from "../../../src/util/rateLimitedCounter.js";

const OPTIONS: CameraConnectionOptions = {loginTimeoutMs: 10_000, heartbeatTimeoutMs: 20_000};

// protocol-notes.md §8.1 [CAP]: the camera's registration, 107 bytes, forwardId 00×8.
const REGISTRATION = Buffer.concat([
    Buffer.from("5700000000000000000000000000000000000000", "hex"),
    Buffer.from('{"code": 100, "uid": "0800c00128F8", "token": "91edf41f" ,"domain": "v720.naxclow.com"}'),
]);
// protocol-notes.md §4.1: the server's 101 reply and heartbeat reply, byte for byte.
const REGISTER_REPLY_HEX = [
    "19000000", // payloadLength = 25
    "0000", // cmd 0 (JSON)
    "00", // msgFlag
    "00", // dealFlag
    "3030303030303030", // forwardId = ASCII "00000000"
    "00000000", // pkgId
    Buffer.from('{"code":101,"status":200}').toString("hex"),
].join("");
const HEARTBEAT_REPLY_HEX = "0000000064000000303030303030303000000000";
const CAMERA_HEARTBEAT = Buffer.from("0000000064000000000000000000000000000000", "hex");

class RecordingHandler implements ConnectionHandler {
    readonly registered: RegisterRequest[] = [];
    readonly messages: WireMessage[] = [];
    readonly closes: string[] = [];
    link: CameraLink | undefined;

    handleRegister(link: CameraLink, request: RegisterRequest): ConnectionListener {
        this.link = link;
        this.registered.push(request);
        return {
            handleMessage: (message) => {
                this.messages.push(message);
            },
            handleClose: (reason) => {
                this.closes.push(reason);
            },
        };
    }
}

/** Lets stream events (nextTick / microtasks) run; setImmediate is not faked. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(options: CameraConnectionOptions = OPTIONS) {
    const [cameraSide, serverSide] = duplexPair();
    const handler = new RecordingHandler();
    const counters = new CameraCounters();
    const connection = new CameraConnection(
        serverSide,
        handler,
        options,
        counters,
        new RateLimitedCounter(),
        silentLogger,
    );
    const framer = new TcpFramer();
    const received: Packet[] = [];
    const rawReceived: Buffer[] = [];
    cameraSide.on("data", (chunk: Buffer) => {
        rawReceived.push(chunk);
        received.push(...framer.push(chunk));
    });
    cameraSide.on("error", () => undefined);
    return {
        cameraSide,
        serverSide,
        handler,
        counters,
        connection,
        received,
        raw: () => Buffer.concat(rawReceived),
    };
}

beforeEach(() => {
    vi.useFakeTimers({toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"]});
});
afterEach(() => {
    vi.useRealTimers();
});

describe("CameraConnection registration (protocol-notes.md §8.1)", () => {
    it("answers the captured code 100 with the exact 101 bytes and hands the request over", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        await flush();
        expect(t.raw().toString("hex")).toBe(REGISTER_REPLY_HEX);
        expect(t.handler.registered).toStrictEqual([
            {uid: "0800c00128F8", token: "91edf41f", domain: "v720.naxclow.com"},
        ]);
        expect(t.connection.uid).toBe("0800c00128F8");
    });

    it("accepts the registration one byte at a time and glued to a heartbeat", async () => {
        const t = setup();
        const bytes = Buffer.concat([REGISTRATION, CAMERA_HEARTBEAT]);
        for (const byte of bytes) {
            t.cameraSide.write(Buffer.from([byte]));
        }
        await flush();
        expect(t.handler.registered).toHaveLength(1);
        expect(t.raw().toString("hex")).toBe(REGISTER_REPLY_HEX + HEARTBEAT_REPLY_HEX);
    });

    it("answers each cmd 100 heartbeat with an empty cmd 100 (§4.1)", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        await flush();
        t.cameraSide.write(Buffer.concat([CAMERA_HEARTBEAT, CAMERA_HEARTBEAT]));
        await flush();
        expect(t.raw().toString("hex")).toBe(REGISTER_REPLY_HEX + HEARTBEAT_REPLY_HEX + HEARTBEAT_REPLY_HEX);
    });

    it("passes later JSON messages to the listener", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        t.cameraSide.write(encodeJsonPacket({code: 301, target: "x", content: {code: 3}}));
        await flush();
        expect(t.handler.messages).toStrictEqual([{code: 301, target: "x", content: {code: 3}}]);
    });

    it("closes when no registration arrives within loginTimeoutMs", async () => {
        const t = setup();
        vi.advanceTimersByTime(9_999);
        await flush();
        expect(t.connection.isClosed).toBe(false);
        vi.advanceTimersByTime(1);
        await flush();
        expect(t.connection.isClosed).toBe(true);
        expect(t.serverSide.destroyed).toBe(true);
        expect(t.counters.loginTimeouts).toBe(1);
    });

    it("closes when the first message is not a code 100", async () => {
        const t = setup();
        t.cameraSide.write(encodeJsonPacket({code: 12, status: 200}));
        await flush();
        expect(t.connection.isClosed).toBe(true);
        expect(t.counters.loginRejected).toBe(1);
        expect(t.handler.registered).toStrictEqual([]);
    });

    it("closes when the code 100 has no usable uid", async () => {
        const t = setup();
        t.cameraSide.write(encodeJsonPacket({code: 100, token: "x"}));
        await flush();
        expect(t.connection.isClosed).toBe(true);
        expect(t.raw()).toHaveLength(0);
    });

    it("closes when the handler refuses the camera", async () => {
        const [cameraSide, serverSide] = duplexPair();
        const connection = new CameraConnection(
            serverSide,
            {handleRegister: () => undefined},
            OPTIONS,
            new CameraCounters(),
            new RateLimitedCounter(),
            silentLogger,
        );
        cameraSide.write(REGISTRATION);
        await flush();
        expect(connection.isClosed).toBe(true);
    });

    it("answers a repeated registration and keeps the session", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        t.cameraSide.write(REGISTRATION);
        await flush();
        expect(t.handler.registered).toHaveLength(1);
        expect(t.received.filter((packet) => packet.header.command === Cmd.json)).toHaveLength(2);
    });
});

describe("CameraConnection bad input", () => {
    it("drops invalid JSON with a count and keeps the connection", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        t.cameraSide.write(encodePacket({command: Cmd.json}, Buffer.from("{not json")));
        t.cameraSide.write(encodeJsonPacket({code: 301, target: "x", content: {code: 0}}));
        await flush();
        expect(t.counters.badTcpMessages).toBe(1);
        expect(t.connection.isClosed).toBe(false);
        expect(t.handler.messages).toHaveLength(1);
    });

    it("closes on a 4 GB length field without waiting for (or allocating) the payload", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        t.cameraSide.write(
            encodeHeader({
                payloadLength: 0xffff_ffff,
                command: 0,
                msgFlag: 0,
                dealFlag: 0,
                forwardId: "00000000",
                packageId: 0,
            }),
        );
        await flush();
        expect(t.connection.isClosed).toBe(true);
        expect(t.counters.badTcpStreams).toBe(1);
        expect(t.handler.closes).toStrictEqual(["malformed stream"]);
    });

    it("closes on a length above maxTcpPayloadBytes", async () => {
        const t = setup({...OPTIONS, maxTcpPayloadBytes: 100});
        t.cameraSide.write(REGISTRATION.subarray(0, 20));
        await flush();
        expect(t.connection.isClosed).toBe(false); // 87 ≤ 100
        const t2 = setup({...OPTIONS, maxTcpPayloadBytes: 50});
        t2.cameraSide.write(REGISTRATION.subarray(0, 20));
        await flush();
        expect(t2.connection.isClosed).toBe(true);
    });

    it("a throwing listener is logged, not fatal", async () => {
        const [cameraSide, serverSide] = duplexPair();
        const handler: ConnectionHandler = {
            handleRegister: () => ({
                handleMessage: () => {
                    throw new Error("bug");
                },
                handleClose: () => undefined,
            }),
        };
        const connection = new CameraConnection(
            serverSide,
            handler,
            OPTIONS,
            new CameraCounters(),
            new RateLimitedCounter(),
            silentLogger,
        );
        cameraSide.write(REGISTRATION);
        cameraSide.write(encodeJsonPacket({code: 12}));
        await flush();
        expect(connection.isClosed).toBe(false);
    });
});

describe("CameraConnection liveness (protocol-notes.md §8.2)", () => {
    it("closes after heartbeatTimeoutMs without any message and tells the listener", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        await flush();
        vi.advanceTimersByTime(19_999);
        expect(t.connection.isClosed).toBe(false);
        vi.advanceTimersByTime(1);
        await flush();
        expect(t.connection.isClosed).toBe(true);
        expect(t.counters.heartbeatTimeouts).toBe(1);
        expect(t.handler.closes).toStrictEqual(["heartbeat timeout"]);
        expect(t.serverSide.destroyed).toBe(true);
    });

    it("stays open for a minute of 5 s heartbeats", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        await flush();
        for (let beat = 0; beat < 12; beat++) {
            vi.advanceTimersByTime(5000);
            t.cameraSide.write(CAMERA_HEARTBEAT);
            await flush();
        }
        expect(t.connection.isClosed).toBe(false);
    });

    it("counts UDP activity reported through noteActivity as liveness", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        await flush();
        for (let step = 0; step < 10; step++) {
            vi.advanceTimersByTime(10_000);
            t.handler.link?.noteActivity(Date.now());
        }
        expect(t.connection.isClosed).toBe(false);
        vi.advanceTimersByTime(20_000);
        expect(t.connection.isClosed).toBe(true);
    });

    it("reports the peer closing the stream to the listener", async () => {
        const t = setup();
        t.cameraSide.write(REGISTRATION);
        await flush();
        t.cameraSide.end();
        await flush();
        expect(t.connection.isClosed).toBe(true);
        expect(t.handler.closes).toHaveLength(1);
    });
});
