/**
 * Download progress on stderr: a redrawn bar on a terminal, or plain percentage lines (every 10 %)
 * when stderr is a file or a pipe, so logs stay readable.
 */

export interface ProgressSink {
    write(text: string): unknown;
    readonly isTTY?: boolean;
}

export interface DownloadProgressOptions {
    readonly label: string;
    readonly totalBytes: number | undefined;
    readonly sink: ProgressSink;
    readonly now?: () => number;
    /** Least time between two redraws of the bar; default 100. */
    readonly minRedrawMs?: number;
    /** Characters of the bar; default 24. */
    readonly barWidth?: number;
}

/** Without a total, a plain line every this many bytes. */
const PLAIN_STEP_BYTES = 1024 * 1024;

export class DownloadProgress {
    readonly #options: DownloadProgressOptions;
    readonly #now: () => number;
    readonly #startedAtMs: number;
    #bytes = 0;
    #lastDrawAtMs = Number.NEGATIVE_INFINITY;
    #lastStep = 0;
    #lastPrintedBytes = -1;
    #barShown = false;

    constructor(options: DownloadProgressOptions) {
        this.#options = options;
        this.#now = options.now ?? Date.now;
        this.#startedAtMs = this.#now();
    }

    update(bytes: number): void {
        this.#bytes = bytes;
        if (this.#options.sink.isTTY === true) {
            const nowMs = this.#now();
            if (nowMs - this.#lastDrawAtMs >= (this.#options.minRedrawMs ?? 100)) {
                this.#lastDrawAtMs = nowMs;
                this.#drawBar();
            }
            return;
        }
        const step = this.#step(bytes);
        if (step > this.#lastStep) {
            this.#lastStep = step;
            this.#writePlainLine();
        }
    }

    /** Final state: the bar at its last value and a newline; in plain mode a last line unless already printed. */
    finish(): void {
        if (this.#options.sink.isTTY === true) {
            this.#drawBar();
            this.#options.sink.write("\n");
            this.#barShown = false;
            return;
        }
        if (this.#bytes !== this.#lastPrintedBytes) {
            this.#writePlainLine();
        }
    }

    /** Ends a bar line on the terminal so an error message starts on its own line. */
    interrupt(): void {
        if (this.#barShown) {
            this.#options.sink.write("\n");
            this.#barShown = false;
        }
    }

    #writePlainLine(): void {
        this.#lastPrintedBytes = this.#bytes;
        this.#options.sink.write(`${this.#plainLine()}\n`);
    }

    #step(bytes: number): number {
        const total = this.#options.totalBytes;
        if (total === undefined || total <= 0) {
            return Math.floor(bytes / PLAIN_STEP_BYTES);
        }
        return Math.floor((Math.min(bytes, total) / total) * 10);
    }

    #plainLine(): string {
        const total = this.#options.totalBytes;
        if (total === undefined || total <= 0) {
            return `${this.#options.label}: ${formatBytes(this.#bytes)}`;
        }
        return `${this.#options.label}: ${percent(this.#bytes, total)}% (${formatBytes(this.#bytes)} of ${formatBytes(total)})`;
    }

    #drawBar(): void {
        const total = this.#options.totalBytes;
        const elapsedS = Math.max((this.#now() - this.#startedAtMs) / 1000, 0.001);
        const rate = `${formatBytes(this.#bytes / elapsedS)}/s`;
        let line: string;
        if (total === undefined || total <= 0) {
            line = `${this.#options.label}  ${formatBytes(this.#bytes)}  ${rate}`;
        } else {
            const width = this.#options.barWidth ?? 24;
            const filled = Math.round((Math.min(this.#bytes, total) / total) * width);
            const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
            line = `${this.#options.label} [${bar}] ${String(percent(this.#bytes, total)).padStart(3)}%  ${formatBytes(this.#bytes)} / ${formatBytes(total)}  ${rate}`;
        }
        this.#options.sink.write(`\r${line}\u001b[K`);
        this.#barShown = true;
    }
}

function percent(bytes: number, total: number): number {
    return Math.floor((Math.min(bytes, total) / total) * 100);
}

/** 1536 → `1.5 KiB`; under 1 KiB in bytes. */
export function formatBytes(bytes: number): string {
    if (bytes < 1024) {
        return `${Math.round(bytes)} B`;
    }
    const units = ["KiB", "MiB", "GiB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
    }
    return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}
