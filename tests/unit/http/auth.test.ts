import {describe, expect, it} from "vitest";
import {AuthGate, basicAuthorization, parseBasicAuthorization} from "../../../src/http/auth.js";
import {silentLogger} from "../../../src/util/log.js";
import {fakeExchange} from "../../support/fakeHttp.js";

const CREDENTIALS = {username: "admin", password: "pä:ss word"};
const GOOD = basicAuthorization(CREDENTIALS);

function ask(gate: AuthGate, url: string, headers: Record<string, string> = {}, method = "GET") {
    const {req, res, route} = fakeExchange({url, headers, method});
    const isHandled = gate.handle(req, res.asServerResponse(), route);
    return {isHandled, res};
}

describe("parseBasicAuthorization", () => {
    it("decodes user:password, keeping colons in the password (RFC 7617 §2)", () => {
        expect(parseBasicAuthorization(GOOD)).toBe("admin:pä:ss word");
        expect(parseBasicAuthorization(`basic ${Buffer.from("a:b").toString("base64")}`)).toBe("a:b");
    });

    it.each([
        ["another scheme", "Bearer abc"],
        ["no colon", `Basic ${Buffer.from("admin").toString("base64")}`],
        ["not base64", "Basic ***"],
        ["empty", "Basic "],
    ])("rejects %s", (_name, header) => {
        expect(parseBasicAuthorization(header)).toBeUndefined();
    });
});

describe("AuthGate", () => {
    const gate = () => new AuthGate({credentials: CREDENTIALS}, silentLogger);

    it.each([
        "/",
        "/index.html",
        "/ui/app.js",
        "/api/cameras",
        "/api/cameras/0800c00128F8/stream.mjpeg",
        "/api/cameras/0800c00128F8/commands",
        "/api/diagnostics",
        "/api/states",
        "/dev/list",
        "/dev/0800c00128F8/live",
        "/metrics",
        "/anything-else",
    ])("answers 401 with a Basic challenge for %s without credentials", (url) => {
        const {isHandled, res} = ask(gate(), url);
        expect(isHandled).toBe(true);
        expect(res.statusCode).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe('Basic realm="v720-bridge", charset="UTF-8"');
        expect(res.json()).toStrictEqual({error: "authentication required"});
    });

    it("lets a request with the right credentials through to the next handler", () => {
        const {isHandled, res} = ask(gate(), "/api/cameras", {authorization: GOOD});
        expect(isHandled).toBe(false);
        expect(res.headersSent).toBe(false);
    });

    it.each([
        ["wrong password", basicAuthorization({username: "admin", password: "nope"})],
        ["wrong user", basicAuthorization({username: "root", password: CREDENTIALS.password})],
        ["another scheme", "Bearer x"],
    ])("refuses %s and counts it", (_name, header) => {
        const g = gate();
        expect(ask(g, "/api/cameras", {authorization: header}).res.statusCode).toBe(401);
        expect(g.stats()).toStrictEqual({rejected: 1, badCredentials: 1});
    });

    it("keeps /healthz and /readyz open", () => {
        for (const url of ["/healthz", "/readyz"]) {
            expect(ask(gate(), url).isHandled).toBe(false);
        }
    });

    it("lets a camera's unknown path reach the 404 and its diagnostics, but never a viewer route", () => {
        const camera = {version: "202412061749"};
        expect(ask(gate(), "/app/newFirmwareCall", camera, "POST").isHandled).toBe(false);
        expect(ask(gate(), "/api/cameras", camera).res.statusCode).toBe(401);
        expect(ask(gate(), "/", camera).res.statusCode).toBe(401);
        expect(ask(gate(), "/metrics", camera).res.statusCode).toBe(401);
    });
});
