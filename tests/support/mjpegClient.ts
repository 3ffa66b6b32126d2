/**
 * A strict multipart/x-mixed-replace reader for tests and the benchmark: every part must carry a
 * Content-Length, and the part body must be exactly that long.
 */
import {type IncomingMessage, request} from "node:http";

export interface MjpegPart {
    readonly data: Buffer;
    /** performance.now() when the last byte of the part arrived. */
    readonly receivedAtHr: number;
}

export interface MjpegClient {
    readonly response: IncomingMessage;
    /** Resolves with the next part; rejects when the stream ends first or the timeout expires. */
    next(timeoutMs?: number): Promise<MjpegPart>;
    /** Stops reading from the socket (a stalled viewer) without closing it. */
    pause(): void;
    resume(): void;
    close(): void;
    readonly partsReceived: number;
    readonly errors: readonly string[];
}

export function openMjpeg(url: string, onPart?: (part: MjpegPart) => void): Promise<MjpegClient> {
    return new Promise((resolve, reject) => {
        const req = request(url, (res) => {
            const type = res.headers["content-type"] ?? "";
            const match = /boundary=("?)([^";]+)\1/.exec(type);
            if (res.statusCode !== 200 || match === null || match[2] === undefined) {
                res.resume();
                reject(new Error(`not an MJPEG stream: ${res.statusCode} ${type}`));
                return;
            }
            resolve(new Reader(res, match[2], onPart));
        });
        req.on("error", reject);
        req.end();
    });
}

class Reader implements MjpegClient {
    readonly response: IncomingMessage;
    readonly errors: string[] = [];
    partsReceived = 0;
    readonly #delimiter: Buffer;
    readonly #onPart: ((part: MjpegPart) => void) | undefined;
    #buffer: Buffer = Buffer.alloc(0);
    #queue: MjpegPart[] = [];
    #waiters: {resolve: (part: MjpegPart) => void; reject: (error: Error) => void}[] = [];
    #ended = false;

    constructor(res: IncomingMessage, boundary: string, onPart: ((part: MjpegPart) => void) | undefined) {
        this.response = res;
        this.#delimiter = Buffer.from(`--${boundary}`);
        this.#onPart = onPart;
        res.on("data", (chunk: Buffer) => this.#push(chunk));
        res.on("end", () => this.#end("stream ended"));
        res.on("error", (error) => this.#end(error.message));
        res.on("close", () => this.#end("stream closed"));
    }

    next(timeoutMs = 10_000): Promise<MjpegPart> {
        const queued = this.#queue.shift();
        if (queued !== undefined) {
            return Promise.resolve(queued);
        }
        if (this.#ended) {
            return Promise.reject(new Error("stream ended"));
        }
        return new Promise((resolve, reject) => {
            const waiter = {
                resolve: (part: MjpegPart) => {
                    clearTimeout(timer);
                    resolve(part);
                },
                reject: (error: Error) => {
                    clearTimeout(timer);
                    reject(error);
                },
            };
            const timer = setTimeout(() => {
                this.#waiters = this.#waiters.filter((w) => w !== waiter);
                reject(new Error(`no MJPEG part within ${timeoutMs} ms`));
            }, timeoutMs);
            this.#waiters.push(waiter);
        });
    }

    pause(): void {
        this.response.pause();
    }

    resume(): void {
        this.response.resume();
    }

    close(): void {
        this.response.destroy();
    }

    #push(chunk: Buffer): void {
        this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
        for (;;) {
            const start = this.#buffer.indexOf(this.#delimiter);
            if (start < 0) {
                return;
            }
            const headersEnd = this.#buffer.indexOf("\r\n\r\n", start);
            if (headersEnd < 0) {
                return;
            }
            const head = this.#buffer.toString("latin1", start + this.#delimiter.length, headersEnd);
            const lengthMatch = /content-length:\s*(\d+)/i.exec(head);
            if (lengthMatch?.[1] === undefined) {
                this.errors.push(`part without Content-Length: ${head}`);
                this.#buffer = this.#buffer.subarray(headersEnd + 4);
                continue;
            }
            const length = Number(lengthMatch[1]);
            const bodyStart = headersEnd + 4;
            if (this.#buffer.length < bodyStart + length) {
                return;
            }
            const data = Buffer.from(this.#buffer.subarray(bodyStart, bodyStart + length));
            this.#buffer = this.#buffer.subarray(bodyStart + length);
            const part = {data, receivedAtHr: performance.now()};
            this.partsReceived += 1;
            this.#onPart?.(part);
            const waiter = this.#waiters.shift();
            if (waiter === undefined) {
                if (this.#onPart === undefined) {
                    this.#queue.push(part);
                }
            } else {
                waiter.resolve(part);
            }
        }
    }

    #end(reason: string): void {
        if (this.#ended) {
            return;
        }
        this.#ended = true;
        for (const waiter of this.#waiters.splice(0)) {
            waiter.reject(new Error(reason));
        }
    }
}
