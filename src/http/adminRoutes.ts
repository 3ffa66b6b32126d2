/**
 * Routes that change the service's state rather than view it. `DELETE /api/cameras/:id` forgets a camera:
 * its session is closed, its state dropped and its Home Assistant discovery cleared (issue 3 item 6).
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import type {Logger} from "../util/log.js";
import {type RouteHandler, type RouteRequest, sendJson, sendJsonError} from "./jsonResponse.js";

export interface AdminActions {
    /** Forgets `id` everywhere; resolves false when the camera was not known anywhere. */
    forget(id: string): Promise<boolean>;
}

export class AdminRoutes implements RouteHandler {
    readonly #actions: AdminActions;
    readonly #log: Logger;

    constructor(actions: AdminActions, log: Logger) {
        this.#actions = actions;
        this.#log = log;
    }

    handle(_req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        const [api, cameras, encodedId, ...rest] = route.segments;
        if (route.method !== "DELETE" || api !== "api" || cameras !== "cameras" || encodedId === undefined) {
            return false;
        }
        if (rest.length > 0) {
            return false;
        }
        let id: string;
        try {
            id = decodeURIComponent(encodedId);
        } catch {
            sendJsonError(res, 400, "malformed camera id");
            return true;
        }
        this.#actions.forget(id).then(
            (forgotten) => {
                if (forgotten) {
                    this.#log.info(`camera ${id} forgotten through the API`);
                    sendJson(res, 200, {id, forgotten: true});
                } else {
                    sendJsonError(res, 404, "unknown camera", {camera: id});
                }
            },
            (error: unknown) => {
                this.#log.error(`forgetting camera ${id} failed`, {error});
                sendJsonError(res, 500, "forget failed", {camera: id});
            },
        );
        return true;
    }
}
