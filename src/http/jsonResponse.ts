/** JSON replies and the route-handler contract shared by httpServer.ts and the route modules. */
import type {IncomingMessage, ServerResponse} from "node:http";

/** A request as the router sees it: the query string is split off and never used for routing. */
export interface RouteRequest {
    readonly method: string;
    /** Path without the query string, one trailing slash removed (`/api/cameras/` → `/api/cameras`). */
    readonly path: string;
    /** `path.split("/")` without the leading empty element, still percent-encoded. */
    readonly segments: readonly string[];
    readonly query: string;
}

/** A group of routes. `handle` returns false when the path is not its own, so the next group (or 404) answers. */
export interface RouteHandler {
    handle(req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean;
    /** Ends long-lived responses (streams, pending snapshots); called by HttpServer.stop(). */
    closeAll?(): void;
}

/** Extra response headers as name/value pairs, so names keep their canonical case (`Allow`, `Connection`). */
export type HeaderList = readonly (readonly [name: string, value: string])[];

/** Sends `value` as JSON with its UTF-8 byte length; does nothing when the response has already started. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: HeaderList = []): void {
    if (res.headersSent || res.writableEnded || res.destroyed) {
        return;
    }
    const body = Buffer.from(JSON.stringify(value), "utf8");
    for (const [name, header] of headers) {
        res.setHeader(name, header);
    }
    res.writeHead(status, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": body.length,
        "Cache-Control": "no-store",
    });
    res.end(body);
}

/** `{"error": message, ...details}`; every error on every route has this shape. */
export function sendJsonError(
    res: ServerResponse,
    status: number,
    message: string,
    details: Readonly<Record<string, unknown>> = {},
    headers: HeaderList = [],
): void {
    sendJson(res, status, {error: message, ...details}, headers);
}

export function sendMethodNotAllowed(res: ServerResponse, method: string, allow: string): void {
    sendJsonError(res, 405, "method not allowed", {method, allow}, [["Allow", allow]]);
}
