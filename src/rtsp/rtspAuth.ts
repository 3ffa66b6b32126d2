/**
 * Optional RTSP credentials: HTTP Basic (RFC 7617) and Digest with MD5 (RFC 2617, with or without
 * qop=auth; what ffmpeg, GStreamer, VLC and go2rtc send). Nonces are stateless: a timestamp plus an
 * HMAC of it under a per-process secret, valid for `nonceLifetimeMs`.
 */
import {createHash, createHmac, randomBytes, timingSafeEqual} from "node:crypto";

export interface RtspCredentials {
    readonly username: string;
    readonly password: string;
}

export interface RtspAuthOptions {
    readonly credentials: RtspCredentials;
    readonly realm?: string | undefined;
    readonly nonceLifetimeMs?: number | undefined;
    /** HMAC key for nonces; default random per process. */
    readonly secret?: Buffer | undefined;
    readonly now?: (() => number) | undefined;
}

export type AuthResult = "ok" | "missing" | "invalid" | "stale";

export class RtspAuthenticator {
    readonly realm: string;
    readonly #credentials: RtspCredentials;
    readonly #secret: Buffer;
    readonly #nonceLifetimeMs: number;
    readonly #now: () => number;

    constructor(options: RtspAuthOptions) {
        this.realm = options.realm ?? "v720-bridge";
        this.#credentials = options.credentials;
        this.#secret = options.secret ?? randomBytes(32);
        this.#nonceLifetimeMs = options.nonceLifetimeMs ?? 3_600_000;
        this.#now = options.now ?? Date.now;
    }

    /** `WWW-Authenticate` values for a 401: Digest first (preferred), then Basic. */
    challenges(isStale = false): string[] {
        return [
            `Digest realm="${this.realm}", nonce="${this.makeNonce()}", algorithm=MD5${isStale ? ", stale=TRUE" : ""}`,
            `Basic realm="${this.realm}"`,
        ];
    }

    makeNonce(): string {
        const stamp = this.#now().toString(16);
        return `${stamp}${this.#sign(stamp)}`;
    }

    /** Checks an `Authorization` header for a request with `method`. */
    verify(method: string, authorization: string | undefined): AuthResult {
        if (authorization === undefined || authorization.trim() === "") {
            return "missing";
        }
        const space = authorization.indexOf(" ");
        const scheme = (space < 0 ? authorization : authorization.slice(0, space)).toLowerCase();
        const rest = space < 0 ? "" : authorization.slice(space + 1).trim();
        if (scheme === "basic") {
            const decoded = Buffer.from(rest, "base64").toString("utf8");
            const expected = `${this.#credentials.username}:${this.#credentials.password}`;
            return safeEqual(decoded, expected) ? "ok" : "invalid";
        }
        if (scheme === "digest") {
            return this.#verifyDigest(method, parseAuthParams(rest));
        }
        return "invalid";
    }

    #verifyDigest(method: string, params: ReadonlyMap<string, string>): AuthResult {
        const username = params.get("username");
        const nonce = params.get("nonce");
        const uri = params.get("uri");
        const response = params.get("response");
        if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
            return "invalid";
        }
        if (params.get("realm") !== this.realm || !safeEqual(username, this.#credentials.username)) {
            return "invalid";
        }
        const algorithm = params.get("algorithm");
        if (algorithm !== undefined && algorithm.toUpperCase() !== "MD5") {
            return "invalid";
        }
        const nonceState = this.#checkNonce(nonce);
        if (nonceState === "invalid") {
            return "invalid";
        }
        const ha1 = md5(`${username}:${this.realm}:${this.#credentials.password}`);
        const ha2 = md5(`${method}:${uri}`);
        const qop = params.get("qop");
        let expected: string;
        if (qop === undefined) {
            expected = md5(`${ha1}:${nonce}:${ha2}`);
        } else if (qop === "auth") {
            const nc = params.get("nc") ?? "";
            const cnonce = params.get("cnonce") ?? "";
            expected = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
        } else {
            return "invalid";
        }
        if (!safeEqual(response.toLowerCase(), expected)) {
            return "invalid";
        }
        return nonceState === "stale" ? "stale" : "ok";
    }

    #checkNonce(nonce: string): "ok" | "stale" | "invalid" {
        const match = /^([0-9a-f]{1,13})([0-9a-f]{32})$/.exec(nonce);
        if (match?.[1] === undefined || match[2] === undefined || !safeEqual(match[2], this.#sign(match[1]))) {
            return "invalid";
        }
        const ageMs = this.#now() - Number.parseInt(match[1], 16);
        return ageMs >= 0 && ageMs <= this.#nonceLifetimeMs ? "ok" : "stale";
    }

    #sign(stamp: string): string {
        return createHmac("sha256", this.#secret).update(stamp).digest("hex").slice(0, 32);
    }
}

/** `a="x", b=y, c="z, w"` → map (names lower-cased, quotes and backslash escapes removed). */
export function parseAuthParams(text: string): Map<string, string> {
    const params = new Map<string, string>();
    const pattern = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/gy;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        if (match[0] === "") {
            break;
        }
        const value = match[2] === undefined ? (match[3] ?? "") : match[2].replace(/\\(.)/g, "$1");
        params.set((match[1] ?? "").toLowerCase(), value);
    }
    return params;
}

export function md5(text: string): string {
    return createHash("md5").update(text, "utf8").digest("hex");
}

function safeEqual(a: string, b: string): boolean {
    const left = Buffer.from(a, "utf8");
    const right = Buffer.from(b, "utf8");
    return left.length === right.length && timingSafeEqual(left, right);
}
