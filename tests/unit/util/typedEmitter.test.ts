import {describe, expect, it} from "vitest";
import {TypedEmitter} from "../../../src/util/typedEmitter.js";

interface Events {
    ping: number;
    pong: {readonly text: string};
}

describe("TypedEmitter", () => {
    it("calls listeners of the emitted event in order with the payload", () => {
        const emitter = new TypedEmitter<Events>();
        const seen: string[] = [];
        emitter.on("ping", (value) => seen.push(`a${value}`));
        emitter.on("ping", (value) => seen.push(`b${value}`));
        emitter.on("pong", (value) => seen.push(value.text));
        emitter.emit("ping", 1);
        emitter.emit("pong", {text: "x"});
        expect(seen).toStrictEqual(["a1", "b1", "x"]);
    });

    it("a throwing listener is reported and the others still run", () => {
        const errors: string[] = [];
        const emitter = new TypedEmitter<Events>((error, event) => {
            errors.push(`${event}: ${error instanceof Error ? error.message : "?"}`);
        });
        const seen: number[] = [];
        emitter.on("ping", () => {
            throw new Error("boom");
        });
        emitter.on("ping", (value) => seen.push(value));
        expect(() => emitter.emit("ping", 7)).not.toThrow();
        expect(seen).toStrictEqual([7]);
        expect(errors).toStrictEqual(["ping: boom"]);
    });

    it("the function returned by on() removes the listener", () => {
        const emitter = new TypedEmitter<Events>();
        const seen: number[] = [];
        const off = emitter.on("ping", (value) => seen.push(value));
        emitter.emit("ping", 1);
        off();
        off();
        emitter.emit("ping", 2);
        expect(seen).toStrictEqual([1]);
        expect(emitter.listenerCount("ping")).toBe(0);
    });
});
