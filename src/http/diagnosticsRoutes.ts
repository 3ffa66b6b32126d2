/**
 * `GET /api/diagnostics` (issue 6 item 5): unknown endpoints, recent camera requests and firmware
 * versions seen, for the web UI and `doctor`. The JSON is BootstrapDiagnostics.snapshot() (diagnostics.ts).
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import type {DiagnosticsJson} from "./diagnostics.js";
import {type RouteHandler, type RouteRequest, sendJson, sendMethodNotAllowed} from "./jsonResponse.js";

export const DIAGNOSTICS_PATH = "/api/diagnostics";

export interface DiagnosticsSource {
    snapshot(): DiagnosticsJson;
}

export class DiagnosticsRoutes implements RouteHandler {
    readonly #source: DiagnosticsSource;

    constructor(source: DiagnosticsSource) {
        this.#source = source;
    }

    handle(_req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        if (route.path !== DIAGNOSTICS_PATH) {
            return false;
        }
        if (route.method !== "GET") {
            sendMethodNotAllowed(res, route.method, "GET");
            return true;
        }
        sendJson(res, 200, this.#source.snapshot());
        return true;
    }
}
