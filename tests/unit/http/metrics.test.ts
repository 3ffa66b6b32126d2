import {describe, expect, it} from "vitest";
import {formatPrometheusText, type MetricFamily, MetricsRoutes} from "../../../src/http/metricsRoutes.js";
import {silentLogger} from "../../../src/util/log.js";
import {fakeExchange} from "../../support/fakeHttp.js";
import {PromParseError, parsePrometheusText, sampleValue} from "../../support/promText.js";

const FAMILIES: MetricFamily[] = [
    {name: "v720_cameras_online", help: "Cameras online.", type: "gauge", samples: [{value: 2}]},
    {
        name: "v720_frames_dropped_total",
        help: "Frames dropped,\nby reason \\ kind.",
        type: "counter",
        samples: [
            {labels: {reason: "expired"}, value: 3},
            {labels: {reason: 'odd "quoted"\\\nvalue'}, value: 0},
        ],
    },
    {name: "v720_empty", help: "No samples yet.", type: "gauge", samples: []},
    {name: "v720_special", help: "Special values.", type: "gauge", samples: [{labels: {v: "nan"}, value: Number.NaN}]},
];

describe("formatPrometheusText", () => {
    it("writes HELP, TYPE and samples that a strict parser reads back exactly", () => {
        const text = formatPrometheusText(FAMILIES);
        expect(text).toContain(
            '# TYPE v720_frames_dropped_total counter\nv720_frames_dropped_total{reason="expired"} 3\n',
        );
        const parsed = parsePrometheusText(text);
        expect([...parsed.keys()]).toStrictEqual(FAMILIES.map((family) => family.name));
        expect(parsed.get("v720_frames_dropped_total")?.help).toBe("Frames dropped,\nby reason \\ kind.");
        expect(sampleValue(parsed, "v720_frames_dropped_total", {reason: 'odd "quoted"\\\nvalue'})).toBe(0);
        expect(sampleValue(parsed, "v720_cameras_online")).toBe(2);
        expect(sampleValue(parsed, "v720_special")).toBeNaN();
    });

    it("refuses invalid or duplicate names (a collector bug)", () => {
        expect(() => formatPrometheusText([{name: "bad-name", help: "", type: "gauge", samples: []}])).toThrow(
            RangeError,
        );
        expect(() => formatPrometheusText([FAMILIES[0] as MetricFamily, FAMILIES[0] as MetricFamily])).toThrow(
            RangeError,
        );
        expect(() =>
            formatPrometheusText([{name: "x", help: "", type: "gauge", samples: [{labels: {"a-b": "1"}, value: 1}]}]),
        ).toThrow(RangeError);
    });

    it("is empty without families", () => {
        expect(formatPrometheusText([])).toBe("");
    });
});

describe("the test parser is strict", () => {
    it.each([
        ["no final line feed", "a 1"],
        ["a bad value", "a one\n"],
        ["an unterminated label", 'a{b="c 1\n'],
        ["a duplicate series", "a 1\na 2\n"],
        ["a split family", 'a 1\nb 1\na{x="1"} 1\n'],
        ["a late TYPE", "a 1\n# TYPE a gauge\n"],
        ["a counter without _total", "# TYPE a counter\na 1\n"],
        ["a bad escape", 'a{b="\\t"} 1\n'],
    ])("rejects %s", (_name, text) => {
        expect(() => parsePrometheusText(text)).toThrow(PromParseError);
    });
});

describe("MetricsRoutes", () => {
    function routes(ready: boolean) {
        return new MetricsRoutes(
            {
                metrics: () => FAMILIES,
                readiness: () => [
                    {name: "http", ok: true},
                    {name: "mqtt", ok: ready, detail: ready ? "connected" : "not connected"},
                ],
            },
            silentLogger,
        );
    }

    it("serves /metrics as text/plain version 0.0.4", () => {
        const {req, res, route} = fakeExchange({url: "/metrics"});
        expect(routes(true).handle(req, res.asServerResponse(), route)).toBe(true);
        expect(res.statusCode).toBe(200);
        expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
        expect(parsePrometheusText(res.text).size).toBe(FAMILIES.length);
    });

    it("answers /readyz 200 when every check passes and 503 naming the failed one otherwise", () => {
        const ok = fakeExchange({url: "/readyz"});
        routes(true).handle(ok.req, ok.res.asServerResponse(), ok.route);
        expect(ok.res.statusCode).toBe(200);
        expect(ok.res.json()).toMatchObject({status: "ready"});

        const bad = fakeExchange({url: "/readyz"});
        routes(false).handle(bad.req, bad.res.asServerResponse(), bad.route);
        expect(bad.res.statusCode).toBe(503);
        expect(bad.res.json()).toStrictEqual({
            status: "not ready",
            checks: [
                {name: "http", ok: true},
                {name: "mqtt", ok: false, detail: "not connected"},
            ],
        });
    });

    it("leaves other paths alone and allows only GET", () => {
        const other = fakeExchange({url: "/api/cameras"});
        expect(routes(true).handle(other.req, other.res.asServerResponse(), other.route)).toBe(false);
        const post = fakeExchange({url: "/metrics", method: "POST"});
        routes(true).handle(post.req, post.res.asServerResponse(), post.route);
        expect(post.res.statusCode).toBe(405);
    });
});
