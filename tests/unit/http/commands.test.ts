import {describe, expect, it} from "vitest";
import {
    buildCameraStateJson,
    type CameraControlSource,
    type CameraControlsView,
    type CommandOutcome,
    CommandRoutes,
    parseCommandBody,
} from "../../../src/http/commandRoutes.js";
import {emptyCameraState} from "../../../src/model/cameraState.js";
import {silentLogger} from "../../../src/util/log.js";
import {fakeExchange} from "../../support/fakeHttp.js";

const ID = "0800c00128F8";
const VIEW: CameraControlsView = {
    state: {...emptyCameraState(ID), online: true, irLed: 0, lastSeenAtMs: Date.UTC(2025, 0, 2, 3, 4, 5)},
    controls: [{entity: "ir_led", kind: "switch", name: "Night mode (IR)", value: "OFF", category: null}],
};

class FakeSource implements CameraControlSource {
    readonly calls: [string, string, string][] = [];
    outcome: CommandOutcome = {ok: true};

    list(): CameraControlsView[] {
        return [VIEW];
    }

    get(id: string): CameraControlsView | undefined {
        return id === ID ? VIEW : undefined;
    }

    run(id: string, entity: string, payload: string): Promise<CommandOutcome> {
        this.calls.push([id, entity, payload]);
        return Promise.resolve(this.outcome);
    }
}

async function call(
    source: FakeSource,
    init: {method?: string; url: string; body?: string; headers?: Record<string, string>},
): Promise<{status: number; body: unknown; handled: boolean}> {
    const {req, res, route} = fakeExchange(init);
    const handled = new CommandRoutes(source, silentLogger).handle(req, res.asServerResponse(), route);
    if (handled) {
        await res.finished();
    }
    return {status: res.statusCode, body: handled ? res.json() : undefined, handled};
}

const JSON_HEADERS = {"content-type": "application/json"};

describe("parseCommandBody", () => {
    it("accepts an entity with a text or numeric payload", () => {
        expect(parseCommandBody('{"entity":"ir_led","payload":"ON"}')).toStrictEqual({entity: "ir_led", payload: "ON"});
        expect(parseCommandBody('{"entity":"motion_sensitivity","payload":3}')).toStrictEqual({
            entity: "motion_sensitivity",
            payload: "3",
        });
    });

    it.each([
        ["not JSON", "{"],
        ["an array", "[]"],
        ["no entity", '{"payload":"ON"}'],
        ["a bad entity", '{"entity":"../x","payload":"ON"}'],
        ["an object payload", '{"entity":"ir_led","payload":{}}'],
        ["a huge payload", JSON.stringify({entity: "ir_led", payload: "x".repeat(300)})],
    ])("rejects %s with a message", (_name, body) => {
        expect(typeof parseCommandBody(body)).toBe("string");
    });
});

describe("CommandRoutes", () => {
    it("lists states with ISO times and the controls", async () => {
        const {status, body} = await call(new FakeSource(), {url: "/api/states"});
        expect(status).toBe(200);
        expect(body).toStrictEqual([buildCameraStateJson(VIEW)]);
        expect(body).toMatchObject([{id: ID, lastSeenAt: "2025-01-02T03:04:05.000Z", controls: VIEW.controls}]);
        expect(JSON.stringify(body)).not.toContain("AtMs");
    });

    it("serves one camera's state and 404 for an unknown one", async () => {
        expect((await call(new FakeSource(), {url: `/api/cameras/${ID}/state`})).status).toBe(200);
        const unknown = await call(new FakeSource(), {url: "/api/cameras/nope/state"});
        expect(unknown).toMatchObject({status: 404, body: {error: "unknown camera", camera: "nope"}});
    });

    it("runs a command with the entity and payload as sent", async () => {
        const source = new FakeSource();
        const result = await call(source, {
            method: "POST",
            url: `/api/cameras/${ID}/commands`,
            headers: JSON_HEADERS,
            body: '{"entity":"ir_led","payload":"ON"}',
        });
        expect(result).toMatchObject({status: 200, body: {ok: true, camera: ID, entity: "ir_led"}});
        expect(source.calls).toStrictEqual([[ID, "ir_led", "ON"]]);
    });

    it.each([
        [{ok: false, error: "invalid", reason: "ir_led expects ON or OFF"}, 400],
        [{ok: false, error: "unsupported", reason: "no command flip for this camera"}, 400],
        [{ok: false, error: "unknown-camera", reason: "unknown camera"}, 404],
        [{ok: false, error: "failed", reason: "camera offline"}, 503],
        [{ok: false, error: "unavailable", reason: "camera commands need MQTT"}, 503],
    ] as const)("maps %o to HTTP %i with the reason", async (outcome, status) => {
        const source = new FakeSource();
        source.outcome = outcome;
        const result = await call(source, {
            method: "POST",
            url: `/api/cameras/${ID}/commands`,
            headers: JSON_HEADERS,
            body: '{"entity":"ir_led","payload":"MAYBE"}',
        });
        expect(result).toMatchObject({status, body: {error: outcome.reason}});
    });

    it("refuses a body that is not declared JSON (no cross-site form posts) and never runs it", async () => {
        const source = new FakeSource();
        const result = await call(source, {
            method: "POST",
            url: `/api/cameras/${ID}/commands`,
            headers: {"content-type": "text/plain"},
            body: '{"entity":"reboot","payload":"PRESS"}',
        });
        expect(result.status).toBe(415);
        expect(source.calls).toStrictEqual([]);
    });

    it("refuses malformed and oversized bodies", async () => {
        const source = new FakeSource();
        const url = `/api/cameras/${ID}/commands`;
        expect((await call(source, {method: "POST", url, headers: JSON_HEADERS, body: "nope"})).status).toBe(400);
        const big = JSON.stringify({entity: "ir_led", payload: "ON", pad: "x".repeat(5000)});
        expect((await call(source, {method: "POST", url, headers: JSON_HEADERS, body: big})).status).toBe(413);
        expect(source.calls).toStrictEqual([]);
    });

    it("allows only POST on commands and GET on states, and ignores other paths", async () => {
        const source = new FakeSource();
        expect((await call(source, {url: `/api/cameras/${ID}/commands`})).status).toBe(405);
        expect((await call(source, {method: "DELETE", url: "/api/states"})).status).toBe(405);
        expect((await call(source, {url: `/api/cameras/${ID}`})).handled).toBe(false);
        expect((await call(source, {url: `/api/cameras/${ID}/stream.mjpeg`})).handled).toBe(false);
    });
});
