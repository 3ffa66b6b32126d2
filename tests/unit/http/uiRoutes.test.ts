import {Script} from "node:vm";
import {describe, expect, it} from "vitest";
import {APP_JS} from "../../../src/http/ui/appScript.js";
import {INDEX_HTML} from "../../../src/http/ui/indexHtml.js";
import {CONTENT_SECURITY_POLICY, UiRoutes} from "../../../src/http/ui/uiRoutes.js";
import {fakeExchange} from "../../support/fakeHttp.js";

function get(url: string, init: {method?: string; headers?: Record<string, string>} = {}) {
    const {req, res, route} = fakeExchange({url, ...init});
    const handled = new UiRoutes().handle(req, res.asServerResponse(), route);
    return {handled, res};
}

describe("UiRoutes", () => {
    it.each([
        ["/", "text/html; charset=utf-8"],
        ["/index.html", "text/html; charset=utf-8"],
        ["/ui/app.js", "text/javascript; charset=utf-8"],
        ["/ui/style.css", "text/css; charset=utf-8"],
    ])("serves %s as %s with a strict CSP", (url, contentType) => {
        const {handled, res} = get(url);
        expect(handled).toBe(true);
        expect(res.statusCode).toBe(200);
        expect(res.headers.get("content-type")).toBe(contentType);
        expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
        expect(Number(res.headers.get("content-length"))).toBe(Buffer.byteLength(res.text));
    });

    it("answers 304 to a matching If-None-Match and HEAD without a body", () => {
        const etag = get("/ui/app.js").res.headers.get("etag") ?? "";
        expect(etag).toMatch(/^"[\w-]+"$/);
        expect(get("/ui/app.js", {headers: {"if-none-match": etag}}).res.statusCode).toBe(304);
        const head = get("/", {method: "HEAD"}).res;
        expect(head.statusCode).toBe(200);
        expect(head.text).toBe("");
    });

    it("leaves API paths to the other handlers and refuses POST", () => {
        expect(get("/api/cameras").handled).toBe(false);
        expect(get("/ui/other.js").handled).toBe(false);
        expect(get("/", {method: "POST"}).res.statusCode).toBe(405);
        expect(get("/favicon.ico").res.statusCode).toBe(204);
    });
});

describe("the UI assets", () => {
    it("is a script that compiles, loaded from its own URL (no inline script for the CSP)", () => {
        expect(() => new Script(APP_JS, {filename: "app.js"})).not.toThrow();
        expect(INDEX_HTML).toContain('<script src="/ui/app.js" defer></script>');
        expect(INDEX_HTML).not.toMatch(/<script>|\son[a-z]+=/i);
    });

    it("never parses data as HTML and loads nothing from other origins", () => {
        for (const sink of [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ]) {
            expect(APP_JS, sink).not.toContain(sink);
        }
        expect(`${INDEX_HTML}${APP_JS}`).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    });
});
