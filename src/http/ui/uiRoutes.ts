/**
 * Serves the web UI (issue 5 item 2) on the viewer port: `GET /` (and `/index.html`), `/ui/app.js`,
 * `/ui/style.css`; `/favicon.ico` is an empty 204 so browsers stop asking. Static, shipped as string modules,
 * with a strict Content-Security-Policy (scripts and styles from this origin only, no inline script), so
 * even a missed escape could not run camera-sent text as script. ETag + `Cache-Control: no-cache`: the
 * browser revalidates on each load and gets 304 while the bridge has not been updated.
 */
import {createHash} from "node:crypto";
import type {IncomingMessage, ServerResponse} from "node:http";
import {type RouteHandler, type RouteRequest, sendMethodNotAllowed} from "../jsonResponse.js";
import {APP_JS} from "./appScript.js";
import {INDEX_HTML} from "./indexHtml.js";
import {STYLE_CSS} from "./styleCss.js";

interface Asset {
    readonly body: Buffer;
    readonly contentType: string;
    readonly etag: string;
}

export const CONTENT_SECURITY_POLICY =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function asset(text: string, contentType: string): Asset {
    const body = Buffer.from(text, "utf8");
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    return {body, contentType, etag};
}

const PAGE = asset(INDEX_HTML, "text/html; charset=utf-8");
const ASSETS: ReadonlyMap<string, Asset> = new Map([
    ["/", PAGE],
    ["/index.html", PAGE],
    ["/ui/app.js", asset(APP_JS, "text/javascript; charset=utf-8")],
    ["/ui/style.css", asset(STYLE_CSS, "text/css; charset=utf-8")],
]);

export class UiRoutes implements RouteHandler {
    handle(req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        const found = ASSETS.get(route.path);
        if (found === undefined && route.path !== "/favicon.ico") {
            return false;
        }
        if (route.method !== "GET" && route.method !== "HEAD") {
            sendMethodNotAllowed(res, route.method, "GET, HEAD");
            return true;
        }
        if (found === undefined) {
            res.writeHead(204, {"Cache-Control": "max-age=86400"});
            res.end();
            return true;
        }
        const headers = {
            "Content-Type": found.contentType,
            "Cache-Control": "no-cache",
            etag: found.etag,
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        };
        if (req.headers["if-none-match"] === found.etag) {
            res.writeHead(304, headers);
            res.end();
            return true;
        }
        res.writeHead(200, {...headers, "Content-Length": found.body.length});
        res.end(route.method === "HEAD" ? undefined : found.body);
        return true;
    }
}
