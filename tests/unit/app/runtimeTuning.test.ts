import {describe, expect, it} from "vitest";
import {GcTuner, LOW_LATENCY_GC_OFF_AT, LOW_LATENCY_GC_ON_AT} from "../../../src/app/runtimeTuning.js";
import type {StreamState} from "../../../src/model/camera.js";
import {silentLogger} from "../../../src/util/log.js";

function tuner(mode: boolean | "auto"): {tuner: GcTuner; flags: string[]} {
    const flags: string[] = [];
    return {tuner: new GcTuner(mode, silentLogger, (value) => flags.push(value)), flags};
}

function stream(target: GcTuner, from: number, to: number, state: StreamState): void {
    for (let index = from; index < to; index += 1) {
        target.update(`cam${index}`, state);
    }
}

describe("GcTuner", () => {
    it("auto: turns incremental marking off at LOW_LATENCY_GC_ON_AT streaming cameras, not before", () => {
        const {tuner: gc, flags} = tuner("auto");
        stream(gc, 0, LOW_LATENCY_GC_ON_AT - 1, "streaming");
        expect(flags).toEqual([]);
        gc.update("last", "starting"); // starting counts: the handshake's datagrams are already flowing
        expect(flags).toEqual(["--no-incremental-marking"]);
        expect(gc.lowLatency).toBe(true);
    });

    it("auto: turns it back on only at LOW_LATENCY_GC_OFF_AT or fewer (hysteresis), once", () => {
        const {tuner: gc, flags} = tuner("auto");
        stream(gc, 0, LOW_LATENCY_GC_ON_AT, "streaming");
        stream(gc, 0, LOW_LATENCY_GC_ON_AT - LOW_LATENCY_GC_OFF_AT - 1, "idle");
        expect(flags).toEqual(["--no-incremental-marking"]); // OFF_AT + 1 still streaming
        gc.update("cam9999", "idle"); // an unknown camera going idle changes nothing
        expect(flags).toHaveLength(1);
        stream(
            gc,
            LOW_LATENCY_GC_ON_AT - LOW_LATENCY_GC_OFF_AT - 1,
            LOW_LATENCY_GC_ON_AT - LOW_LATENCY_GC_OFF_AT,
            "idle",
        );
        expect(flags).toEqual(["--no-incremental-marking", "--incremental-marking"]);
        stream(gc, 0, LOW_LATENCY_GC_ON_AT, "idle");
        expect(flags).toHaveLength(2);
        expect(gc.switches).toBe(2);
    });

    it("auto: repeated states of one camera count once", () => {
        const {tuner: gc, flags} = tuner("auto");
        for (let round = 0; round < 50; round += 1) {
            gc.update("same", "streaming");
            gc.update("same", "stopping");
        }
        expect(flags).toEqual([]);
    });

    it("true: off from the start and never switched back", () => {
        const {tuner: gc, flags} = tuner(true);
        expect(flags).toEqual(["--no-incremental-marking"]);
        stream(gc, 0, LOW_LATENCY_GC_ON_AT, "streaming");
        stream(gc, 0, LOW_LATENCY_GC_ON_AT, "idle");
        expect(flags).toEqual(["--no-incremental-marking"]);
    });

    it("false: never touches V8", () => {
        const {tuner: gc, flags} = tuner(false);
        stream(gc, 0, 3 * LOW_LATENCY_GC_ON_AT, "streaming");
        expect(flags).toEqual([]);
        expect(gc.lowLatency).toBe(false);
    });

    it("follows a registry's streamState events and stops when unsubscribed", () => {
        const {tuner: gc, flags} = tuner("auto");
        const listeners = new Set<(event: {id: string; state: StreamState}) => void>();
        const source = {
            on: (_event: "streamState", listener: (event: {id: string; state: StreamState}) => void) => {
                listeners.add(listener);
                return () => listeners.delete(listener);
            },
        };
        const stop = gc.follow(source);
        for (let index = 0; index < LOW_LATENCY_GC_ON_AT; index += 1) {
            for (const listener of listeners) {
                listener({id: `cam${index}`, state: "streaming"});
            }
        }
        expect(flags).toEqual(["--no-incremental-marking"]);
        stop();
        expect(listeners.size).toBe(0);
    });
});
