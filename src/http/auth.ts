/**
 * `http.auth` (decisions.md 21, issue 5 item 7): HTTP Basic authentication (RFC 7617) in front of every
 * viewer, command, UI and metrics route on every port the HttpServer listens on. The camera bootstrap
 * never needs it: HttpServer answers the bootstrap (and sinkholed hosts) before asking any RouteHandler,
 * so this gate, placed FIRST in the handler list, never sees those requests.
 *
 * The gate answers 401 itself and returns true for a protected request without valid credentials;
 * otherwise it returns false and the request goes on to the next handler. Protected:
 * - `/`, `/index.html`, `/ui/...`, `/api/...`, `/dev/...`, `/metrics` (whoever asks), and
 * - every other path, unless the request carries the camera's `version` header (a camera asking for
 *   an unknown path must still reach HttpServer's 404 and its firmware diagnostics).
 * Open: `/healthz` and `/readyz` (Docker HEALTHCHECK, `doctor`, orchestrators).
 */
import {createHash, timingSafeEqual} from "node:crypto";
import type {IncomingMessage, ServerResponse} from "node:http";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {type RouteHandler, type RouteRequest, sendJsonError} from "./jsonResponse.js";

export interface BasicCredentials {
    readonly username: string;
    readonly password: string;
}

export interface AuthGateOptions {
    readonly credentials: BasicCredentials;
    /** Default "v720-bridge". */
    readonly realm?: string | undefined;
    /** Paths that never need credentials. Default OPEN_PATHS. */
    readonly openPaths?: readonly string[] | undefined;
}

export interface AuthGateStats {
    /** Requests answered 401 (no or wrong credentials). */
    readonly rejected: number;
    /** Of those, requests that carried credentials that did not match. */
    readonly badCredentials: number;
}

export const OPEN_PATHS: readonly string[] = ["/healthz", "/readyz"];

/** Paths (and prefixes, ending in "/") that are protected even when a camera asks for them. */
const ALWAYS_PROTECTED = new Set(["/", "/index.html", "/metrics", "/api", "/dev", "/ui"]);
const PROTECTED_PREFIXES = ["/api/", "/dev/", "/ui/"];

export class AuthGate implements RouteHandler {
    readonly #expected: Buffer;
    readonly #challenge: string;
    readonly #openPaths: ReadonlySet<string>;
    readonly #log: Logger;
    readonly #failures = new RateLimitedCounter(60_000);
    #rejected = 0;
    #badCredentials = 0;

    constructor(options: AuthGateOptions, log: Logger) {
        this.#expected = digest(`${options.credentials.username}:${options.credentials.password}`);
        // RFC 7617 §2.1: the charset parameter tells the browser to send UTF-8.
        this.#challenge = `Basic realm="${sanitizeRealm(options.realm ?? "v720-bridge")}", charset="UTF-8"`;
        this.#openPaths = new Set(options.openPaths ?? OPEN_PATHS);
        this.#log = log;
    }

    handle(req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        if (!this.#isProtected(req, route)) {
            return false;
        }
        const header = req.headers.authorization;
        if (header !== undefined && this.#matches(header)) {
            return false;
        }
        this.#rejected += 1;
        if (header !== undefined) {
            this.#badCredentials += 1;
            const peer = req.socket.remoteAddress ?? "?";
            const suppressed = this.#failures.hit(peer);
            if (suppressed !== undefined) {
                this.#log.warn(`wrong HTTP credentials from ${peer} for ${route.method} ${route.path}`, {suppressed});
            }
        }
        sendJsonError(res, 401, "authentication required", {}, [["WWW-Authenticate", this.#challenge]]);
        return true;
    }

    stats(): AuthGateStats {
        return {rejected: this.#rejected, badCredentials: this.#badCredentials};
    }

    #isProtected(req: IncomingMessage, route: RouteRequest): boolean {
        const path = route.path;
        if (this.#openPaths.has(path)) {
            return false;
        }
        if (ALWAYS_PROTECTED.has(path) || PROTECTED_PREFIXES.some((prefix) => path.startsWith(prefix))) {
            return true;
        }
        return req.headers["version"] === undefined;
    }

    #matches(header: string): boolean {
        const decoded = parseBasicAuthorization(header);
        // Both sides hashed to the same length: the comparison time says nothing about the secret.
        return decoded !== undefined && timingSafeEqual(digest(decoded), this.#expected);
    }
}

/**
 * The `user:password` of an `Authorization: Basic <base64>` header, or undefined for another scheme
 * or malformed base64. The scheme name is case-insensitive (RFC 7235 §2.1).
 */
export function parseBasicAuthorization(header: string): string | undefined {
    const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
    if (match?.[1] === undefined) {
        return undefined;
    }
    const decoded = Buffer.from(match[1], "base64").toString("utf8");
    return decoded.includes(":") ? decoded : undefined;
}

/** The `Authorization` header value for `credentials` (CLI commands talking to a protected service). */
export function basicAuthorization(credentials: BasicCredentials): string {
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64")}`;
}

function digest(text: string): Buffer {
    return createHash("sha256").update(text, "utf8").digest();
}

function sanitizeRealm(realm: string): string {
    return realm.replace(/["\\\r\n]/g, "");
}
