/**
 * Wake for live (issue 6 item 3; new-firmware-notes.md §1.2, §5.2, §9 item 4). A CameraDirectory in
 * front of the registry for cameras that idle on MQTT and open their TCP session only when woken (the
 * MQTT-first family 56/5b/5c/60, or any camera configured so):
 *
 * - list() / get() show such a camera while it has no TCP session, even before its first one: online
 *   over MQTT, stream idle, `wake.state` "asleep" (the normal idle state of this family, not a failure).
 * - The first subscribe() publishes a wake through the injected WakeSource and holds the consumer until
 *   the camera registers over TCP (handleTcpOnline). The consumer is then handed to the registry, whose
 *   session runs the classic handshake. Without a registration within `timeoutMs` every held consumer
 *   gets onEnd("wake-timeout: …") and nothing of the attempt is left behind.
 * - At most one wake per camera per `minIntervalMs`, whether asked for by a viewer or over the API; a
 *   viewer arriving inside that window waits for the wake already sent.
 * - An Info `errStatus` that changes to a non-zero value while a wake is pending ends the attempt early
 *   ("wake-refused: …"; 1 = too many viewers, 2 = could not connect [GUESS], §3.1).
 *
 * The camera layer never sees MQTT: app/ injects the presence (from MQTT Status/Info) and the publisher.
 * Everything else (classic cameras, cameras with a TCP session) goes straight to the inner directory.
 */
import {
    type CameraDirectory,
    type CameraFamily,
    type CameraId,
    type CameraView,
    type CameraWaker,
    type SubscribeResult,
    WakeEndReason,
    type WakeRequestResult,
    type WakeState,
    type WakeView,
} from "../model/camera.js";
import type {JpegFrame, MediaConsumer, MediaSubscription} from "../model/media.js";
import {deviceModelOf} from "../protocol/deviceFamily.js";
import {isWakeTemplate, WAKE_TEMPLATES} from "../protocol/mqttPayloads.js";
import type {Logger} from "../util/log.js";

/** What the MQTT side knows about a camera. */
export interface WakePresence {
    /** Status 1 (or an Info) seen and no Status 0 / will since. */
    readonly mqttOnline: boolean;
    /** Idles without TCP and opens it when woken (MQTT-first family or cameras.overrides.<id>.family). */
    readonly wakesOnDemand: boolean;
    readonly family: CameraFamily;
    readonly errStatus: number | null;
    readonly firmware: string | null;
    readonly lastSeenAtMs: number | null;
}

export interface WakeRequest {
    /** A template name instead of the configured one ("candidate2", …, "custom"). */
    readonly template?: string | undefined;
    /** JSON text for the "custom" template instead of the configured one. */
    readonly customPayload?: string | undefined;
}

/** The MQTT side, as app/ wires it. */
export interface WakeSource {
    /** Cameras known over MQTT (already filtered by cameras.allow); those that wake on demand are listed. */
    ids(): readonly CameraId[];
    presence(id: CameraId): WakePresence | undefined;
    /** Builds and publishes the wake message; never rejects for a bad template (ok: false, "invalid"). */
    sendWake(id: CameraId, request: WakeRequest): Promise<WakeRequestResult>;
}

export interface WakeOnDemandOptions {
    /** How long a viewer waits for the TCP registration after the wake (`cameras.wake.timeout_ms`). */
    readonly timeoutMs: number;
    /** At most one wake per camera this often (`cameras.wake.min_interval_ms`). */
    readonly minIntervalMs: number;
}

interface Waiter {
    readonly consumer: MediaConsumer;
    inner: MediaSubscription | undefined;
    isClosed: boolean;
}

interface Attempt {
    readonly startedAtMs: number;
    readonly timer: NodeJS.Timeout;
    readonly waiters: Set<Waiter>;
    /** errStatus when the attempt began: only a change to a non-zero value ends it early. */
    readonly errStatusAtStart: number | null;
}

interface WakeEntry {
    lastWakeAtMs: number | null;
    lastTemplate: string | null;
    /** The last attempt ended without a registration. */
    hadNoAnswer: boolean;
    attempt: Attempt | undefined;
}

export class WakeOnDemandDirectory implements CameraDirectory, CameraWaker {
    readonly #inner: CameraDirectory;
    readonly #source: WakeSource;
    readonly #options: WakeOnDemandOptions;
    readonly #log: Logger;
    readonly #now: () => number;
    readonly #entries = new Map<CameraId, WakeEntry>();
    #isStopped = false;

    constructor(
        inner: CameraDirectory,
        source: WakeSource,
        options: WakeOnDemandOptions,
        log: Logger,
        now: () => number = Date.now,
    ) {
        this.#inner = inner;
        this.#source = source;
        this.#options = options;
        this.#log = log;
        this.#now = now;
    }

    // ---- CameraDirectory -----------------------------------------------------------------------

    list(): CameraView[] {
        const views = this.#inner.list().map((view) => this.#decorate(view));
        const listed = new Set(views.map((view) => view.id));
        for (const id of this.#source.ids()) {
            if (!listed.has(id)) {
                const view = this.#sleeping(id);
                if (view !== undefined) {
                    views.push(view);
                    listed.add(id);
                }
            }
        }
        return views;
    }

    get(id: CameraId): CameraView | undefined {
        const view = this.#inner.get(id);
        return view === undefined ? this.#sleeping(id) : this.#decorate(view);
    }

    subscribe(id: CameraId, consumer: MediaConsumer): SubscribeResult {
        const view = this.#inner.get(id);
        const presence = this.#source.presence(id);
        if (this.#isStopped || presence?.wakesOnDemand !== true || view?.online === true) {
            return this.#inner.subscribe(id, consumer);
        }
        const pending = this.#entries.get(id)?.attempt;
        if (!presence.mqttOnline && pending === undefined) {
            // Not reachable over MQTT: a wake would go nowhere. Registry rules (a known camera is waited for).
            return view === undefined ? {ok: false, reason: "offline"} : this.#inner.subscribe(id, consumer);
        }
        const attempt = pending ?? this.#startAttempt(id, presence);
        const waiter: Waiter = {consumer, inner: undefined, isClosed: false};
        attempt.waiters.add(waiter);
        return {
            ok: true,
            waking: {timeoutMs: this.#options.timeoutMs},
            subscription: {close: () => this.#closeWaiter(id, attempt, waiter)},
        };
    }

    latestFrame(id: CameraId): JpegFrame | undefined {
        return this.#inner.latestFrame(id);
    }

    // ---- CameraWaker (POST /api/cameras/:id/wake) ----------------------------------------------

    async wake(id: CameraId, request: WakeRequest): Promise<WakeRequestResult> {
        if (this.#source.presence(id) === undefined && this.#inner.get(id) === undefined) {
            return {ok: false, error: "unknown-camera", reason: `camera ${id} is not known`};
        }
        if (request.template !== undefined && !isWakeTemplate(request.template)) {
            return {
                ok: false,
                error: "invalid",
                reason: `unknown wake template "${request.template}" (known: ${WAKE_TEMPLATES.join(", ")})`,
            };
        }
        const entry = this.#entry(id);
        const retryAfterMs = this.#retryAfterMs(entry);
        if (retryAfterMs > 0) {
            return {
                ok: false,
                error: "too-soon",
                reason: `one wake per ${this.#options.minIntervalMs} ms`,
                retryAfterMs,
            };
        }
        const previous = entry.lastWakeAtMs;
        entry.lastWakeAtMs = this.#now();
        const result = await this.#source.sendWake(id, request);
        if (result.ok) {
            entry.lastTemplate = result.template;
            this.#log.info(`camera ${id}: wake (${result.template}) sent on request`);
        } else if (result.error === "invalid") {
            entry.lastWakeAtMs = previous; // nothing was sent
        }
        return result;
    }

    // ---- events from app/ ----------------------------------------------------------------------

    /** The camera registered over TCP: the consumers waiting for it go to the registry's session. */
    handleTcpOnline(id: CameraId): void {
        const entry = this.#entries.get(id);
        const attempt = entry?.attempt;
        if (entry === undefined || attempt === undefined) {
            return;
        }
        this.#endAttempt(entry, attempt);
        entry.hadNoAnswer = false;
        const waiters = [...attempt.waiters].filter((waiter) => !waiter.isClosed);
        const sinceWakeMs = entry.lastWakeAtMs === null ? null : this.#now() - entry.lastWakeAtMs;
        this.#log.info(
            `camera ${id} woke: TCP registration ${sinceWakeMs === null ? "" : `${sinceWakeMs} ms after the wake`}` +
                ` (${entry.lastTemplate ?? "no template"}), ${waiters.length} viewer(s) waiting`,
        );
        for (const waiter of waiters) {
            const result = this.#inner.subscribe(id, waiter.consumer);
            if (result.ok) {
                waiter.inner = result.subscription;
            } else {
                this.#endWaiter(waiter, `${WakeEndReason.failed}: camera ${result.reason} after registering`);
            }
        }
    }

    /**
     * The camera's TCP session ended. When viewers are still attached (the registry holds them for its
     * offline grace), the camera is woken again, rate limit permitting.
     */
    handleTcpOffline(id: CameraId): void {
        const presence = this.#source.presence(id);
        const view = this.#inner.get(id);
        if (
            this.#isStopped ||
            presence?.wakesOnDemand !== true ||
            !presence.mqttOnline ||
            (view?.consumers ?? 0) === 0
        ) {
            return;
        }
        const entry = this.#entry(id);
        if (this.#retryAfterMs(entry) > 0) {
            return;
        }
        this.#log.info(`camera ${id} dropped TCP while ${view?.consumers ?? 0} viewer(s) watch: waking it again`);
        this.#send(id, entry, undefined);
    }

    /** An Info `errStatus`: a change to non-zero while a wake is pending ends it early. */
    handleErrStatus(id: CameraId, errStatus: number): void {
        const entry = this.#entries.get(id);
        const attempt = entry?.attempt;
        if (entry === undefined || attempt === undefined || errStatus === 0 || errStatus === attempt.errStatusAtStart) {
            return;
        }
        this.#log.warn(`camera ${id} answered the wake with errStatus ${errStatus} (${describeErrStatus(errStatus)})`);
        this.#fail(
            entry,
            attempt,
            `${WakeEndReason.refused}: errStatus ${errStatus} (${describeErrStatus(errStatus)})`,
        );
    }

    /** Polling fallback: a pending attempt whose camera now has a TCP session is resolved. */
    reconcile(): void {
        for (const [id, entry] of this.#entries) {
            if (entry.attempt !== undefined && this.#inner.get(id)?.online === true) {
                this.handleTcpOnline(id);
            }
        }
    }

    /** Drops what is known about `id`; viewers waiting for its wake are ended. */
    forget(id: CameraId): void {
        const entry = this.#entries.get(id);
        if (entry?.attempt !== undefined) {
            this.#fail(entry, entry.attempt, `${WakeEndReason.failed}: camera forgotten`);
        }
        this.#entries.delete(id);
    }

    /** Pending wakes and timers counted for tests and diagnostics. */
    get pendingWakes(): number {
        let count = 0;
        for (const entry of this.#entries.values()) {
            count += entry.attempt === undefined ? 0 : 1;
        }
        return count;
    }

    /** Ends every waiting viewer and clears every timer. */
    stop(): void {
        this.#isStopped = true;
        for (const entry of this.#entries.values()) {
            if (entry.attempt !== undefined) {
                this.#fail(entry, entry.attempt, "server stopping");
            }
        }
    }

    // ---- internals -----------------------------------------------------------------------------

    #entry(id: CameraId): WakeEntry {
        let entry = this.#entries.get(id);
        if (entry === undefined) {
            entry = {lastWakeAtMs: null, lastTemplate: null, hadNoAnswer: false, attempt: undefined};
            this.#entries.set(id, entry);
        }
        return entry;
    }

    #retryAfterMs(entry: WakeEntry): number {
        if (entry.lastWakeAtMs === null) {
            return 0;
        }
        return Math.max(0, entry.lastWakeAtMs + this.#options.minIntervalMs - this.#now());
    }

    #startAttempt(id: CameraId, presence: WakePresence): Attempt {
        const entry = this.#entry(id);
        const timer = setTimeout(() => {
            if (entry.attempt === attempt) {
                const message = `no TCP registration within ${this.#options.timeoutMs} ms after the wake (${entry.lastTemplate ?? "not sent"})`;
                this.#log.warn(`camera ${id} did not wake: ${message}`);
                entry.hadNoAnswer = true;
                this.#fail(entry, attempt, `${WakeEndReason.timeout}: ${message}`);
            }
        }, this.#options.timeoutMs);
        timer.unref();
        const attempt: Attempt = {
            startedAtMs: this.#now(),
            timer,
            waiters: new Set(),
            errStatusAtStart: presence.errStatus,
        };
        entry.attempt = attempt;
        if (this.#retryAfterMs(entry) > 0) {
            this.#log.debug(
                `camera ${id}: a wake was sent less than ${this.#options.minIntervalMs} ms ago; waiting for it`,
            );
        } else {
            this.#send(id, entry, attempt);
        }
        return attempt;
    }

    /** Publishes a wake; a failure ends `attempt` (when given and still pending). */
    #send(id: CameraId, entry: WakeEntry, attempt: Attempt | undefined): void {
        entry.lastWakeAtMs = this.#now();
        const failed = (reason: string): void => {
            this.#log.warn(`camera ${id}: wake not sent: ${reason}`);
            if (attempt !== undefined && entry.attempt === attempt) {
                this.#fail(entry, attempt, `${WakeEndReason.failed}: ${reason}`);
            }
        };
        this.#source.sendWake(id, {}).then(
            (result) => {
                if (result.ok) {
                    entry.lastTemplate = result.template;
                    this.#log.info(`camera ${id}: wake (${result.template}) sent; waiting for its TCP registration`);
                } else {
                    failed(result.reason);
                }
            },
            (error: unknown) => {
                failed(error instanceof Error ? error.message : String(error));
            },
        );
    }

    #closeWaiter(id: CameraId, attempt: Attempt, waiter: Waiter): void {
        if (waiter.isClosed) {
            return;
        }
        waiter.isClosed = true;
        waiter.inner?.close();
        if (attempt.waiters.delete(waiter) && attempt.waiters.size === 0) {
            const entry = this.#entries.get(id);
            if (entry?.attempt === attempt) {
                // Every viewer left before the camera came: stop waiting (the wake already sent stays sent).
                this.#endAttempt(entry, attempt);
            }
        }
    }

    #endAttempt(entry: WakeEntry, attempt: Attempt): void {
        clearTimeout(attempt.timer);
        if (entry.attempt === attempt) {
            entry.attempt = undefined;
        }
    }

    #fail(entry: WakeEntry, attempt: Attempt, reason: string): void {
        this.#endAttempt(entry, attempt);
        const waiters = [...attempt.waiters];
        attempt.waiters.clear();
        for (const waiter of waiters) {
            this.#endWaiter(waiter, reason);
        }
    }

    #endWaiter(waiter: Waiter, reason: string): void {
        if (waiter.isClosed) {
            return;
        }
        waiter.isClosed = true;
        waiter.inner?.close();
        try {
            waiter.consumer.onEnd?.(reason);
        } catch (error) {
            this.#log.error("consumer onEnd threw", {error});
        }
    }

    #waitingViewers(id: CameraId): number {
        return this.#entries.get(id)?.attempt?.waiters.size ?? 0;
    }

    #wakeView(id: CameraId, hasSession: boolean, presence: WakePresence): WakeView {
        const entry = this.#entries.get(id);
        let state: WakeState;
        if (hasSession) {
            state = "awake";
        } else if (entry?.attempt !== undefined) {
            state = "waking";
        } else if (!presence.mqttOnline) {
            state = "unreachable";
        } else {
            state = entry?.hadNoAnswer === true ? "no-answer" : "asleep";
        }
        return {
            mode: "on-demand",
            state,
            lastWakeAtMs: entry?.lastWakeAtMs ?? null,
            lastTemplate: entry?.lastTemplate ?? null,
        };
    }

    #decorate(view: CameraView): CameraView {
        const presence = this.#source.presence(view.id);
        if (presence === undefined) {
            return view;
        }
        const isWaking = !view.online && this.#entries.get(view.id)?.attempt !== undefined;
        return {
            ...view,
            firmware: view.firmware ?? presence.firmware,
            family: presence.family,
            streamState: isWaking ? "starting" : view.streamState,
            consumers: view.consumers + this.#waitingViewers(view.id),
            mqttOnline: presence.mqttOnline,
            wake: presence.wakesOnDemand ? this.#wakeView(view.id, view.online, presence) : null,
            errStatus: presence.errStatus,
        };
    }

    /** A camera known only over MQTT that wakes on demand (never had a TCP session here). */
    #sleeping(id: CameraId): CameraView | undefined {
        const presence = this.#source.presence(id);
        if (presence === undefined || !presence.wakesOnDemand) {
            return undefined;
        }
        const isWaking = this.#entries.get(id)?.attempt !== undefined;
        return {
            id,
            address: null,
            firmware: presence.firmware,
            family: presence.family,
            model: deviceModelOf(id) ?? null,
            online: false,
            streamState: isWaking ? "starting" : "idle",
            fps: 0,
            lastFrameAtMs: null,
            lastSeenAtMs: presence.lastSeenAtMs,
            baseInfo: null,
            consumers: this.#waitingViewers(id),
            framesDelivered: 0,
            framesDropped: 0,
            mqttOnline: presence.mqttOnline,
            wake: this.#wakeView(id, false, presence),
            errStatus: presence.errStatus,
        };
    }
}

/** new-firmware-notes.md §3.1 (live.nvue:3614), [GUESS]. */
export function describeErrStatus(errStatus: number): string {
    switch (errStatus) {
        case 0:
            return "no error";
        case 1:
            return "too many viewers";
        case 2:
            return "connection timed out";
        default:
            return "unknown";
    }
}
