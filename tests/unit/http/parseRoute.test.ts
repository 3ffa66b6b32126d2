import {describe, expect, it} from "vitest";
import {parseRoute} from "../../../src/http/httpServer.js";

describe("parseRoute", () => {
    it.each([
        [
            "/app/api/ApiServer/getA9ConfCheck?devicesCode=0800c00128F8&random=OPQRST",
            "/app/api/ApiServer/getA9ConfCheck",
            ["app", "api", "ApiServer", "getA9ConfCheck"],
            "devicesCode=0800c00128F8&random=OPQRST",
        ],
        ["/api/cameras/", "/api/cameras", ["api", "cameras"], ""],
        ["/", "/", [""], ""],
        ["/dev/list?x=1#frag", "/dev/list", ["dev", "list"], "x=1"],
        ["http://v720.naxclow.com/app/x?y", "/app/x", ["app", "x"], "y"],
        ["*", "/*", ["*"], ""],
    ])("%s", (url, path, segments, query) => {
        expect(parseRoute("GET", url)).toStrictEqual({method: "GET", path, segments, query});
    });
});
