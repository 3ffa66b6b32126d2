/**
 * `GET /metrics` (Prometheus text exposition format 0.0.4) and `GET /readyz` (issue 5 item 6).
 * The figures come from injected sources wired in app/; this module only formats and answers.
 *
 * | Route          | Reply                                                                   |
 * |----------------|-------------------------------------------------------------------------|
 * | GET /metrics   | `text/plain; version=0.0.4`: every family with HELP and TYPE lines      |
 * | GET /readyz    | 200 `{"status":"ready","checks":[...]}` or 503 `{"status":"not ready"}` |
 *
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
import type {IncomingMessage, ServerResponse} from "node:http";
import type {Logger} from "../util/log.js";
import {type RouteHandler, type RouteRequest, sendJson, sendJsonError, sendMethodNotAllowed} from "./jsonResponse.js";

export type MetricType = "counter" | "gauge";

export interface MetricSample {
    readonly labels?: Readonly<Record<string, string>> | undefined;
    readonly value: number;
}

export interface MetricFamily {
    /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`. */
    readonly name: string;
    readonly help: string;
    readonly type: MetricType;
    readonly samples: readonly MetricSample[];
}

export interface ReadinessCheck {
    /** Short id: `http`, `camera_tcp`, `mqtt_bridge`, … */
    readonly name: string;
    readonly ok: boolean;
    readonly detail?: string | undefined;
}

export interface MetricsSources {
    metrics(): readonly MetricFamily[];
    readiness(): readonly ReadinessCheck[];
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricsRoutes implements RouteHandler {
    readonly #sources: MetricsSources;
    readonly #log: Logger;

    constructor(sources: MetricsSources, log: Logger) {
        this.#sources = sources;
        this.#log = log;
    }

    handle(_req: IncomingMessage, res: ServerResponse, route: RouteRequest): boolean {
        if (route.path !== "/metrics" && route.path !== "/readyz") {
            return false;
        }
        if (route.method !== "GET") {
            sendMethodNotAllowed(res, route.method, "GET");
            return true;
        }
        if (route.path === "/readyz") {
            this.#serveReadiness(res);
        } else {
            this.#serveMetrics(res);
        }
        return true;
    }

    #serveReadiness(res: ServerResponse): void {
        const checks = this.#sources.readiness();
        const isReady = checks.every((check) => check.ok);
        sendJson(res, isReady ? 200 : 503, {status: isReady ? "ready" : "not ready", checks});
    }

    #serveMetrics(res: ServerResponse): void {
        let text: string;
        try {
            text = formatPrometheusText(this.#sources.metrics());
        } catch (error) {
            this.#log.error("collecting metrics failed", {error});
            sendJsonError(res, 500, "metrics unavailable");
            return;
        }
        const body = Buffer.from(text, "utf8");
        res.writeHead(200, {
            "Content-Type": METRICS_CONTENT_TYPE,
            "Content-Length": body.length,
            "Cache-Control": "no-store",
        });
        res.end(body);
    }
}

/**
 * The text exposition of `families`: `# HELP`, `# TYPE`, then one line per sample. Throws RangeError on
 * an invalid metric or label name or a family name used twice (a bug in the collector, not input).
 */
export function formatPrometheusText(families: readonly MetricFamily[]): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const family of families) {
        if (!METRIC_NAME.test(family.name) || seen.has(family.name)) {
            throw new RangeError(`invalid or duplicate metric name "${family.name}"`);
        }
        seen.add(family.name);
        lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
        for (const sample of family.samples) {
            lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
        }
    }
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
    const entries = Object.entries(labels ?? {});
    if (entries.length === 0) {
        return "";
    }
    const parts = entries.map(([name, value]) => {
        if (!LABEL_NAME.test(name) || name.startsWith("__")) {
            throw new RangeError(`invalid label name "${name}"`);
        }
        return `${name}="${escapeLabelValue(value)}"`;
    });
    return `{${parts.join(",")}}`;
}

function formatValue(value: number): string {
    if (Number.isNaN(value)) {
        return "NaN";
    }
    if (value === Number.POSITIVE_INFINITY) {
        return "+Inf";
    }
    if (value === Number.NEGATIVE_INFINITY) {
        return "-Inf";
    }
    return String(value);
}

/** Label values escape backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
    return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(help: string): string {
    return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
