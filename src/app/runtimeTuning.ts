/**
 * Process-wide GC tuning for many streaming cameras, applied by `serve` (and by the bench's server
 * child, so it measures what ships), never by startApp: tests start many apps in one process.
 *
 * Why: with V8's incremental marking on, at 150 streaming cameras (~1 500 frames and ~46 000
 * datagrams a second) V8 (Node 20) started a new incremental mark-compact as soon as the previous
 * one finished: 5–7 a second, each pausing the event loop 5–15 ms (up to 40), which put every
 * camera's frames and every viewer behind it (latency p95 14–23 ms). With it off, a full GC runs only
 * when the old generation reaches its limit, which this workload (almost nothing is promoted)
 * rarely does: none in a 10 s window, p95 7–9 ms and ~15 % less server CPU (npm run bench). The
 * price: such a rare GC marks the whole heap in one pause (~20 ms at 25 MB), and the heap shrinks
 * less eagerly (+~10 MB RSS). So `cloud.low_latency_gc: auto` (default) turns marking off only
 * while at least LOW_LATENCY_GC_ON_AT cameras stream and back on below LOW_LATENCY_GC_OFF_AT;
 * `true` keeps it off, `false` never touches V8.
 *
 * The switch is v8.setFlagsFromString("--[no-]incremental-marking"): documented as "use with care"
 * after start-up; V8 reads this flag each time it decides whether to start marking, so a switch
 * takes effect at the next decision and a marking cycle already running finishes normally.
 */
import {setFlagsFromString} from "node:v8";
import type {StreamState} from "../model/camera.js";
import type {Logger} from "../util/log.js";

export type LowLatencyGcMode = boolean | "auto";

/** Streaming cameras from which `auto` turns incremental marking off… */
export const LOW_LATENCY_GC_ON_AT = 16;
/** …and at or below which it turns it back on (hysteresis: no flapping around one number). */
export const LOW_LATENCY_GC_OFF_AT = 8;

export interface StreamStateSource {
    on(event: "streamState", listener: (event: {readonly id: string; readonly state: StreamState}) => void): () => void;
}

/**
 * Follows how many cameras stream and switches V8's incremental marking per `mode`. `setFlags`
 * is v8.setFlagsFromString unless a test injects a recorder.
 */
export class GcTuner {
    readonly #mode: LowLatencyGcMode;
    readonly #log: Logger;
    readonly #setFlags: (flags: string) => void;
    readonly #active = new Set<string>();
    #markingOff = false;
    #switches = 0;

    constructor(mode: LowLatencyGcMode, log: Logger, setFlags: (flags: string) => void = setFlagsFromString) {
        this.#mode = mode;
        this.#log = log;
        this.#setFlags = setFlags;
        if (mode === true) {
            this.#switch(true, "cloud.low_latency_gc: true");
        }
    }

    /** Incremental marking is off (by this tuner). */
    get lowLatency(): boolean {
        return this.#markingOff;
    }

    /** Times the flag was switched. */
    get switches(): number {
        return this.#switches;
    }

    /** Subscribes to `source`; returns the unsubscribe function. */
    follow(source: StreamStateSource): () => void {
        return source.on("streamState", ({id, state}) => this.update(id, state));
    }

    /** One camera's stream state changed ("idle" = not streaming; anything else counts as streaming). */
    update(id: string, state: StreamState): void {
        if (state === "idle") {
            this.#active.delete(id);
        } else {
            this.#active.add(id);
        }
        if (this.#mode !== "auto") {
            return;
        }
        const streaming = this.#active.size;
        if (!this.#markingOff && streaming >= LOW_LATENCY_GC_ON_AT) {
            this.#switch(true, `${streaming} cameras streaming`);
        } else if (this.#markingOff && streaming <= LOW_LATENCY_GC_OFF_AT) {
            this.#switch(false, `${streaming} cameras streaming`);
        }
    }

    #switch(off: boolean, reason: string): void {
        this.#setFlags(off ? "--no-incremental-marking" : "--incremental-marking");
        this.#markingOff = off;
        this.#switches += 1;
        this.#log.info(`V8 incremental marking ${off ? "off (low-latency GC)" : "back on"}: ${reason}`);
    }
}
