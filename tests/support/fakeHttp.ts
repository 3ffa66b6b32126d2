/** Socket-free stand-ins for node:http requests and responses, for RouteHandler unit tests. */
import type {IncomingMessage, ServerResponse} from "node:http";
import {PassThrough} from "node:stream";
import {parseRoute} from "../../src/http/httpServer.js";
import type {RouteRequest} from "../../src/http/jsonResponse.js";

export class FakeResponse {
    statusCode = 0;
    readonly headers = new Map<string, string>();
    readonly chunks: Buffer[] = [];
    headersSent = false;
    writableEnded = false;
    destroyed = false;
    readonly #waiters: (() => void)[] = [];

    setHeader(name: string, value: string | number): this {
        this.headers.set(name.toLowerCase(), String(value));
        return this;
    }

    writeHead(status: number, headers: Readonly<Record<string, string | number>> = {}): this {
        this.statusCode = status;
        for (const [name, value] of Object.entries(headers)) {
            this.setHeader(name, value);
        }
        this.headersSent = true;
        return this;
    }

    end(body?: Buffer | string): this {
        if (body !== undefined) {
            this.chunks.push(Buffer.from(body));
        }
        this.writableEnded = true;
        for (const waiter of this.#waiters.splice(0)) {
            waiter();
        }
        return this;
    }

    destroy(): this {
        this.destroyed = true;
        return this.end();
    }

    /** Resolves once the response has ended. */
    finished(): Promise<void> {
        return this.writableEnded ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
    }

    get text(): string {
        return Buffer.concat(this.chunks).toString("utf8");
    }

    json(): unknown {
        return JSON.parse(this.text);
    }

    asServerResponse(): ServerResponse {
        return this as unknown as ServerResponse;
    }
}

export interface FakeRequestInit {
    readonly method?: string;
    readonly url?: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** Written and ended on the next tick (after the handler attached its listeners). */
    readonly body?: string;
    readonly remoteAddress?: string;
}

/** A readable request (body on the next tick), its parsed route and a response to inspect. */
export function fakeExchange(init: FakeRequestInit = {}): {
    req: IncomingMessage;
    res: FakeResponse;
    route: RouteRequest;
} {
    const stream = new PassThrough();
    const method = init.method ?? "GET";
    const url = init.url ?? "/";
    const req = Object.assign(stream, {
        method,
        url,
        headers: Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
        socket: {remoteAddress: init.remoteAddress ?? "127.0.0.1"},
        complete: false,
    });
    stream.on("end", () => {
        req.complete = true;
    });
    setImmediate(() => {
        if (init.body !== undefined) {
            stream.write(init.body);
        }
        stream.end();
    });
    stream.resume();
    return {req: req as unknown as IncomingMessage, res: new FakeResponse(), route: parseRoute(method, url)};
}
