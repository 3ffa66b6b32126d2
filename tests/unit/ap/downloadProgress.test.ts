import {describe, expect, it} from "vitest";
import {DownloadProgress, formatBytes} from "../../../src/ap/downloadProgress.js";

function sink(isTTY: boolean): {isTTY: boolean; text: string; write(text: string): boolean} {
    return {
        isTTY,
        text: "",
        write(text: string) {
            this.text += text;
            return true;
        },
    };
}

describe("DownloadProgress", () => {
    it("prints one plain line per 10 % when stderr is not a terminal", () => {
        const out = sink(false);
        const progress = new DownloadProgress({label: "clip", totalBytes: 1000, sink: out});
        for (let bytes = 0; bytes <= 1000; bytes += 50) {
            progress.update(bytes);
        }
        progress.finish();
        const lines = out.text.trim().split("\n");
        expect(lines).toHaveLength(10);
        expect(lines[0]).toBe("clip: 10% (100 B of 1000 B)");
        expect(lines[9]).toBe("clip: 100% (1000 B of 1000 B)");
    });

    it("prints a last line on finish when the last step was not reached", () => {
        const out = sink(false);
        const progress = new DownloadProgress({label: "clip", totalBytes: undefined, sink: out});
        progress.update(3 * 1024 * 1024);
        progress.update(3.5 * 1024 * 1024);
        progress.finish();
        expect(out.text).toBe("clip: 3.0 MiB\nclip: 3.5 MiB\n");
    });

    it("redraws a bar at most every 100 ms on a terminal", () => {
        let nowMs = 0;
        const out = sink(true);
        const progress = new DownloadProgress({
            label: "clip",
            totalBytes: 2048,
            sink: out,
            now: () => nowMs,
            barWidth: 8,
        });
        nowMs = 1000;
        progress.update(512);
        nowMs = 1050;
        progress.update(1024); // too soon: not drawn
        nowMs = 1100;
        progress.update(1536);
        nowMs = 2000;
        progress.update(2048);
        progress.finish();
        const frames = out.text.split("\r").filter((frame) => frame.length > 0);
        expect(frames).toStrictEqual([
            "clip [##------]  25%  512 B / 2.0 KiB  512 B/s\u001b[K",
            "clip [######--]  75%  1.5 KiB / 2.0 KiB  1.4 KiB/s\u001b[K",
            "clip [########] 100%  2.0 KiB / 2.0 KiB  1.0 KiB/s\u001b[K",
            "clip [########] 100%  2.0 KiB / 2.0 KiB  1.0 KiB/s\u001b[K\n",
        ]);
    });

    it("ends the bar line when interrupted, once", () => {
        const out = sink(true);
        const progress = new DownloadProgress({label: "clip", totalBytes: 10, sink: out, now: () => 5});
        progress.interrupt();
        expect(out.text).toBe("");
        progress.update(5);
        progress.interrupt();
        progress.interrupt();
        expect(out.text.endsWith("\u001b[K\n")).toBe(true);
        expect(out.text.split("\n")).toHaveLength(2);
    });

    it("formats sizes in binary units", () => {
        expect(formatBytes(0)).toBe("0 B");
        expect(formatBytes(1023)).toBe("1023 B");
        expect(formatBytes(1536)).toBe("1.5 KiB");
        expect(formatBytes(150 * 1024)).toBe("150 KiB");
        expect(formatBytes(5 * 1024 ** 3)).toBe("5.0 GiB");
        expect(formatBytes(5000 * 1024 ** 3)).toBe("5000 GiB");
    });
});
