/**
 * Camera state and commands for the web UI and scripts (issue 5 item 2). The commands are the Home
 * Assistant entities' own: the same entity keys and payloads as `<base>/<id>/<entity>/set`, checked and
 * sent by the injected CameraControlSource (app/ wires it to the MQTT bridge's parser and commander, so
 * the validation is the one HA commands get).
 *
 * | Route                            | Body / reply                                                       |
 * |----------------------------------|--------------------------------------------------------------------|
 * | GET /api/states                  | CameraStateJson[] (every camera the bridge knows)                  |
 * | GET /api/cameras/:id/state       | CameraStateJson, 404 for an unknown camera                         |
 * | POST /api/cameras/:id/commands   | `{"entity":"ir_led","payload":"ON"}` → `{"ok":true}` or an error   |
 *
 * Command errors: 400 invalid payload or an entity this camera does not have, 404 unknown camera,
 * 415 not `application/json` (which also keeps cross-site form posts out: a browser must send a CORS
 * pre-flight for JSON, and none is answered), 503 the camera could not be reached.
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import type {CameraState} from "../model/cameraState.js";
import type {Logger} from "../util/log.js";
import {type RouteHandler, type RouteRequest, sendJson, sendJsonError, sendMethodNotAllowed} from "./jsonResponse.js";

export type ControlKind = "switch" | "select" | "number" | "button";

/** One control the UI shows, as Home Assistant has it (entity key, payload grammar, current value). */
export interface CameraControl {
    /** The HA entity key (`ir_led`, `flip`, `reboot`): the `entity` of a command. */
    readonly entity: string;
    readonly kind: ControlKind;
    readonly name: string;
    /** Switches: "ON"/"OFF"; selects: the option; numbers: the value; null = unknown (and for buttons). */
    readonly value: string | number | null;
    /** "config" for settings HA files under Configuration; null for primary controls. */
    readonly category: "config" | null;
    readonly options?: readonly string[] | undefined;
    readonly min?: number | undefined;
    readonly max?: number | undefined;
}

export interface CameraControlsView {
    readonly state: CameraState;
    readonly controls: readonly CameraControl[];
}

export type CommandFailure = "unknown-camera" | "unsupported" | "invalid" | "failed" | "unavailable";

export type CommandOutcome =
    | {readonly ok: true}
    | {readonly ok: false; readonly error: CommandFailure; readonly reason: string};

export interface CameraControlSource {
    list(): CameraControlsView[];
    get(id: string): CameraControlsView | undefined;
    /** Validates `payload` for `entity` exactly like an HA command and sends it; never rejects for bad input. */
    run(id: string, entity: string, payload: string): Promise<CommandOutcome>;
}

/** CameraState for the API (decisions.md 20: camelCase, ISO 8601 times) plus the camera's controls. */
export interface CameraStateJson extends Omit<CameraState, "wifiScanAtMs" | "lastMotionAtMs" | "lastSeenAtMs"> {
    readonly wifiScanAt: string | null;
    readonly lastMotionAt: string | null;
    readonly lastSeenAt: string | null;
    readonly controls: readonly CameraControl[];
}

export interface CommandRoutesOptions {
    /** Largest command body. Default 4096. */
    readonly maxBodyBytes?: number | undefined;
}

const DEFAULT_MAX_BODY_BYTES = 4096;
const ENTITY = /^[a-z0-9_]{1,64}$/;
const MAX_PAYLOAD_LENGTH = 256;

const FAILURE_STATUS: Readonly<Record<CommandFailure, number>> = {
    "unknown-camera": 404,
    unsupported: 400,
    invalid: 400,
    failed: 503,
    unavailable: 503,
};

type Match =
    | {readonly kind: "states"}
    | {readonly kind: "state"; readonly id: string}
    | {readonly kind: "command"; readonly id: string};

export class CommandRoutes implements RouteHandler {
    readonly #source: CameraControlSource;
    readonly #log: Logger;
    readonly #maxBodyBytes: number;

    constructor(source: CameraControlSource, log: Logger, options: CommandRoutesOptions = {}) {
        this.#source = source;
        this.#log = log;
        this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    }

    handle(req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        const match = matchRoute(route.segments);
        if (match === undefined) {
            return false;
        }
        if (match.kind === "command") {
            if (route.method !== "POST") {
                sendMethodNotAllowed(res, route.method, "POST");
                return true;
            }
            this.#command(req, res, match.id);
            return true;
        }
        if (route.method !== "GET") {
            sendMethodNotAllowed(res, route.method, "GET");
            return true;
        }
        if (match.kind === "states") {
            sendJson(res, 200, this.#source.list().map(buildCameraStateJson));
            return true;
        }
        const view = this.#source.get(match.id);
        if (view === undefined) {
            sendJsonError(res, 404, "unknown camera", {camera: match.id});
        } else {
            sendJson(res, 200, buildCameraStateJson(view));
        }
        return true;
    }

    #command(req: IncomingMessage, res: ServerResponse, id: string): void {
        const contentType = req.headers["content-type"] ?? "";
        if (!/^application\/json\s*(;|$)/i.test(contentType)) {
            sendJsonError(res, 415, "expected Content-Type: application/json");
            return;
        }
        readBody(req, this.#maxBodyBytes).then(
            (body) => {
                if (body === undefined) {
                    sendJsonError(res, 413, "request body too large", {maxBodyBytes: this.#maxBodyBytes});
                    return;
                }
                const parsed = parseCommandBody(body);
                if (typeof parsed === "string") {
                    sendJsonError(res, 400, parsed);
                    return;
                }
                this.#run(res, id, parsed.entity, parsed.payload);
            },
            (error: unknown) => {
                this.#log.debug(`command body not read: ${error instanceof Error ? error.message : String(error)}`);
                res.destroy();
            },
        );
    }

    #run(res: ServerResponse, id: string, entity: string, payload: string): void {
        this.#source.run(id, entity, payload).then(
            (outcome) => {
                if (outcome.ok) {
                    this.#log.info(`${id}: ${entity} ← ${payload} (web)`);
                    sendJson(res, 200, {ok: true, camera: id, entity});
                    return;
                }
                this.#log.warn(`${id}: ${entity} ← ${payload} (web) refused: ${outcome.reason}`);
                sendJsonError(res, FAILURE_STATUS[outcome.error], outcome.reason, {camera: id, entity});
            },
            (error: unknown) => {
                this.#log.error(`${id}: ${entity} command failed`, {error});
                sendJsonError(res, 500, "command failed", {camera: id, entity});
            },
        );
    }
}

/** The API shape of one camera's state. Pure. */
export function buildCameraStateJson(view: CameraControlsView): CameraStateJson {
    const {wifiScanAtMs, lastMotionAtMs, lastSeenAtMs, ...rest} = view.state;
    return {
        ...rest,
        wifiScanAt: isoOrNull(wifiScanAtMs),
        lastMotionAt: isoOrNull(lastMotionAtMs),
        lastSeenAt: isoOrNull(lastSeenAtMs),
        controls: view.controls,
    };
}

/** `{"entity": "...", "payload": "..." | number}` → the two strings, or an error message. Pure. */
export function parseCommandBody(body: string): {entity: string; payload: string} | string {
    let value: unknown;
    try {
        value = JSON.parse(body);
    } catch (error) {
        if (error instanceof SyntaxError) {
            return "body is not valid JSON";
        }
        throw error;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return 'expected {"entity": ..., "payload": ...}';
    }
    const entity: unknown = Reflect.get(value, "entity");
    const payload: unknown = Reflect.get(value, "payload");
    if (typeof entity !== "string" || !ENTITY.test(entity)) {
        return "entity must be an entity key such as ir_led";
    }
    if (typeof payload === "number" && Number.isFinite(payload)) {
        return {entity, payload: String(payload)};
    }
    if (typeof payload !== "string" || payload.length > MAX_PAYLOAD_LENGTH) {
        return `payload must be a string (ON, OFF, PRESS, an option) or a number, at most ${MAX_PAYLOAD_LENGTH} characters`;
    }
    return {entity, payload};
}

function matchRoute(segments: readonly string[]): Match | undefined {
    const [first, second, third, fourth, ...rest] = segments;
    if (first !== "api" || rest.length > 0) {
        return undefined;
    }
    if (second === "states" && third === undefined) {
        return {kind: "states"};
    }
    if (second !== "cameras" || third === undefined || (fourth !== "state" && fourth !== "commands")) {
        return undefined;
    }
    let id: string;
    try {
        id = decodeURIComponent(third);
    } catch (error) {
        if (error instanceof URIError) {
            return undefined;
        }
        throw error;
    }
    if (id === "") {
        return undefined;
    }
    return fourth === "state" ? {kind: "state", id} : {kind: "command", id};
}

/** The body as UTF-8, or undefined when it exceeds `maxBytes` (the rest is discarded by HttpServer). */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let total = 0;
        let isTooLarge = false;
        const onData = (chunk: Buffer): void => {
            total += chunk.length;
            if (total > maxBytes) {
                isTooLarge = true;
                return;
            }
            chunks.push(chunk);
        };
        req.on("data", onData);
        req.once("end", () => {
            req.off("data", onData);
            resolve(isTooLarge ? undefined : Buffer.concat(chunks).toString("utf8"));
        });
        req.once("error", reject);
        req.once("close", () => {
            if (!req.complete) {
                reject(new Error("connection closed before the body was complete"));
            }
        });
    });
}

function isoOrNull(ms: number | null): string | null {
    return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}
