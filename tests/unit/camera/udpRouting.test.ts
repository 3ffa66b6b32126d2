import {describe, expect, it} from "vitest";
import {CameraCounters} from "../../../src/camera/cameraCounters.js";
import {type UdpPeer, UdpServer} from "../../../src/camera/udpServer.js";
import {silentLogger} from "../../../src/util/log.js";

function peer(): UdpPeer {
    return {
        handleProbe: () => undefined,
        handleMedia: () => undefined,
        handleUdpHeartbeat: () => undefined,
        handleUdpMessage: () => undefined,
    };
}

function server(): UdpServer {
    return new UdpServer(
        {udpReceiveBufferBytes: 1 << 20},
        {probeTarget: () => undefined},
        new CameraCounters(),
        silentLogger,
    );
}

describe("UdpServer routing table (no socket)", () => {
    it("routes by address and port, so cameras behind one IP stay apart", () => {
        const udp = server();
        const a = peer();
        const b = peer();
        udp.bind(a, "10.0.0.9", 40000);
        udp.bind(b, "10.0.0.9", 40001);
        expect(udp.peerAt("10.0.0.9", 40000)).toBe(a);
        expect(udp.peerAt("10.0.0.9", 40001)).toBe(b);
        expect(udp.peerAt("10.0.0.9", 40002)).toBeUndefined();
        expect(udp.peerAt("10.0.0.8", 40000)).toBeUndefined();
    });

    it("a new 51 from another port moves the binding and removes the old route", () => {
        const udp = server();
        const a = peer();
        udp.bind(a, "10.0.0.9", 40000);
        udp.bind(a, "10.0.0.9", 40005);
        expect(udp.peerAt("10.0.0.9", 40000)).toBeUndefined();
        expect(udp.peerAt("10.0.0.9", 40005)).toBe(a);
        expect(udp.bindingCount).toBe(1);
    });

    it("a source claimed by another camera's 51 moves to that camera", () => {
        const udp = server();
        const a = peer();
        const b = peer();
        udp.bind(a, "10.0.0.9", 40000);
        udp.bind(b, "10.0.0.9", 40000);
        expect(udp.peerAt("10.0.0.9", 40000)).toBe(b);
        udp.release(a); // must not remove b's route
        expect(udp.peerAt("10.0.0.9", 40000)).toBe(b);
        expect(udp.bindingCount).toBe(1);
    });

    it("release() removes the peer's route", () => {
        const udp = server();
        const a = peer();
        udp.bind(a, "10.0.0.9", 40000);
        udp.release(a);
        udp.release(a);
        expect(udp.peerAt("10.0.0.9", 40000)).toBeUndefined();
        expect(udp.bindingCount).toBe(0);
    });
});
