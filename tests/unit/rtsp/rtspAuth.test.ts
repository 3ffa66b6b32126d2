import {describe, expect, it} from "vitest";
import {md5, parseAuthParams, RtspAuthenticator} from "../../../src/rtsp/rtspAuth.js";

const credentials = {username: "viewer", password: "s3cret"};
let nowMs = 1_700_000_000_000;
const auth = new RtspAuthenticator({credentials, realm: "v720", secret: Buffer.alloc(32, 7), now: () => nowMs});

function digest(options: {method: string; uri: string; nonce: string; password?: string; qop?: boolean}): string {
    const ha1 = md5(`viewer:v720:${options.password ?? "s3cret"}`);
    const ha2 = md5(`${options.method}:${options.uri}`);
    if (options.qop === true) {
        const response = md5(`${ha1}:${options.nonce}:00000001:abcdef:auth:${ha2}`);
        return `Digest username="viewer", realm="v720", nonce="${options.nonce}", uri="${options.uri}", response="${response}", qop=auth, nc=00000001, cnonce="abcdef"`;
    }
    const response = md5(`${ha1}:${options.nonce}:${ha2}`);
    return `Digest username="viewer", realm="v720", nonce="${options.nonce}", uri="${options.uri}", response="${response}"`;
}

describe("RtspAuthenticator", () => {
    const uri = "rtsp://127.0.0.1:8554/cam";

    it("challenges with Digest (MD5) first and Basic second", () => {
        const [first, second] = auth.challenges();
        expect(first).toMatch(/^Digest realm="v720", nonce="[0-9a-f]+", algorithm=MD5$/);
        expect(second).toBe('Basic realm="v720"');
    });

    it("accepts Basic with the right password only", () => {
        const basic = (text: string): string => `Basic ${Buffer.from(text).toString("base64")}`;
        expect(auth.verify("DESCRIBE", basic("viewer:s3cret"))).toBe("ok");
        expect(auth.verify("DESCRIBE", basic("viewer:wrong"))).toBe("invalid");
        expect(auth.verify("DESCRIBE", undefined)).toBe("missing");
    });

    it("accepts RFC 2069 and qop=auth Digest responses (ffmpeg, GStreamer, VLC)", () => {
        const nonce = auth.makeNonce();
        expect(auth.verify("DESCRIBE", digest({method: "DESCRIBE", uri, nonce}))).toBe("ok");
        expect(auth.verify("SETUP", digest({method: "SETUP", uri: `${uri}/trackID=0`, nonce, qop: true}))).toBe("ok");
    });

    it("rejects a wrong password, a method mismatch and a forged nonce", () => {
        const nonce = auth.makeNonce();
        expect(auth.verify("DESCRIBE", digest({method: "DESCRIBE", uri, nonce, password: "x"}))).toBe("invalid");
        expect(auth.verify("PLAY", digest({method: "DESCRIBE", uri, nonce}))).toBe("invalid");
        const forged = `${nonce.slice(0, -1)}${nonce.endsWith("0") ? "1" : "0"}`;
        expect(auth.verify("DESCRIBE", digest({method: "DESCRIBE", uri, nonce: forged}))).toBe("invalid");
    });

    it("reports an old nonce as stale so the client retries with a fresh one", () => {
        const nonce = auth.makeNonce();
        nowMs += 2 * 3_600_000;
        expect(auth.verify("DESCRIBE", digest({method: "DESCRIBE", uri, nonce}))).toBe("stale");
        expect(auth.challenges(true)[0]).toContain("stale=TRUE");
    });

    it("rejects unknown schemes", () => {
        expect(auth.verify("DESCRIBE", "Bearer abc")).toBe("invalid");
    });
});

describe("parseAuthParams", () => {
    it("handles quoted values with commas and escapes, and bare tokens", () => {
        expect(
            Object.fromEntries(parseAuthParams('username="a\\"b", uri="rtsp://h/x?a=1,2", qop=auth, nc=00000001')),
        ).toEqual({
            username: 'a"b',
            uri: "rtsp://h/x?a=1,2",
            qop: "auth",
            nc: "00000001",
        });
    });
});
