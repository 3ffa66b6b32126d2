/** A minimal raw RTSP client for tests: sends requests, reads responses and counts interleaved RTP. */
import net from "node:net";

export interface RtspResponse {
    readonly status: number;
    readonly headers: ReadonlyMap<string, string>;
    readonly body: string;
}

export class RawRtspClient {
    readonly socket: net.Socket;
    /** Interleaved frames by channel. */
    readonly interleaved = new Map<number, Buffer[]>();
    #buffer = Buffer.alloc(0);
    #cseq = 0;
    #waiters: ((response: RtspResponse) => void)[] = [];
    #responses: RtspResponse[] = [];
    #closed = false;

    private constructor(socket: net.Socket) {
        this.socket = socket;
        socket.on("data", (chunk: Buffer) => this.#handleData(chunk));
        socket.on("error", () => undefined);
        socket.on("close", () => {
            this.#closed = true;
        });
    }

    static connect(port: number): Promise<RawRtspClient> {
        return new Promise((resolve, reject) => {
            const socket = net.connect(port, "127.0.0.1", () => resolve(new RawRtspClient(socket)));
            socket.once("error", reject);
        });
    }

    get isClosed(): boolean {
        return this.#closed;
    }

    /** Sends `method uri` with CSeq (unless `headers` has one) and waits for the response. */
    request(
        method: string,
        uri: string,
        headers: Record<string, string> = {},
        timeoutMs = 10_000,
    ): Promise<RtspResponse> {
        this.#cseq += 1;
        const lines = [`${method} ${uri} RTSP/1.0`];
        if (!Object.keys(headers).some((name) => name.toLowerCase() === "cseq")) {
            lines.push(`CSeq: ${this.#cseq}`);
        }
        for (const [name, value] of Object.entries(headers)) {
            lines.push(`${name}: ${value}`);
        }
        return this.sendRaw(`${lines.join("\r\n")}\r\n\r\n`, timeoutMs);
    }

    /** Writes raw bytes and waits for the next response. */
    sendRaw(text: string | Buffer, timeoutMs = 10_000): Promise<RtspResponse> {
        const next = this.nextResponse(timeoutMs);
        this.socket.write(text);
        return next;
    }

    nextResponse(timeoutMs = 10_000): Promise<RtspResponse> {
        const queued = this.#responses.shift();
        if (queued !== undefined) {
            return Promise.resolve(queued);
        }
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("no RTSP response in time")), timeoutMs);
            this.#waiters.push((response) => {
                clearTimeout(timer);
                resolve(response);
            });
        });
    }

    packets(channel: number): number {
        return this.interleaved.get(channel)?.length ?? 0;
    }

    waitClosed(timeoutMs = 10_000): Promise<void> {
        if (this.#closed) {
            return Promise.resolve();
        }
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("connection not closed in time")), timeoutMs);
            this.socket.once("close", () => {
                clearTimeout(timer);
                resolve();
            });
        });
    }

    close(): void {
        this.socket.destroy();
    }

    #handleData(chunk: Buffer): void {
        this.#buffer = Buffer.concat([this.#buffer, chunk]);
        for (;;) {
            if (this.#buffer.length === 0) {
                return;
            }
            if (this.#buffer[0] === 0x24) {
                if (this.#buffer.length < 4) {
                    return;
                }
                const length = this.#buffer.readUInt16BE(2);
                if (this.#buffer.length < 4 + length) {
                    return;
                }
                const channel = this.#buffer[1] ?? 0;
                const list = this.interleaved.get(channel) ?? [];
                list.push(Buffer.from(this.#buffer.subarray(4, 4 + length)));
                this.interleaved.set(channel, list);
                this.#buffer = this.#buffer.subarray(4 + length);
                continue;
            }
            const end = this.#buffer.indexOf("\r\n\r\n");
            if (end < 0) {
                return;
            }
            const head = this.#buffer.toString("latin1", 0, end).split("\r\n");
            const headers = new Map<string, string>();
            for (const line of head.slice(1)) {
                const colon = line.indexOf(":");
                const name = line.slice(0, colon).trim().toLowerCase();
                const value = line.slice(colon + 1).trim();
                const previous = headers.get(name);
                headers.set(name, previous === undefined ? value : `${previous}\n${value}`);
            }
            const length = Number(headers.get("content-length") ?? 0);
            if (this.#buffer.length < end + 4 + length) {
                return;
            }
            const body = this.#buffer.toString("utf8", end + 4, end + 4 + length);
            this.#buffer = this.#buffer.subarray(end + 4 + length);
            const status = Number((head[0] ?? "").split(" ")[1]);
            const response = {status, headers, body};
            const waiter = this.#waiters.shift();
            if (waiter === undefined) {
                this.#responses.push(response);
            } else {
                waiter(response);
            }
        }
    }
}
