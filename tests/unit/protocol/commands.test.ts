import {describe, expect, it} from "vitest";
import {Cmd, Code, ContentCode, isCmd, MsgFlag} from "../../../src/protocol/commands.js";

describe("commands", () => {
    it.each([
        [0, true],
        [1, true],
        [100, true],
        [605, true],
        [2, false],
        [87, false], // knightofdemons mistook the 0x57 length byte for a command (§12)
        [65535, false],
    ])("isCmd(%i) is %s", (value, expected) => {
        expect(isCmd(value)).toBe(expected);
    });

    it.each([
        ["Cmd", Cmd],
        ["Code", Code],
        ["ContentCode", ContentCode],
        ["MsgFlag", MsgFlag],
    ])("names every %s value once", (_, table) => {
        const values = Object.values(table);
        expect(new Set(values).size).toBe(values.length);
    });

    it("keeps the wire values of the notes (§5, §9.2)", () => {
        expect([Cmd.json, Cmd.jpeg, Cmd.g711, Cmd.pcm, Cmd.heartbeat, Cmd.confirm]).toStrictEqual([
            0, 1, 4, 6, 100, 605,
        ]);
        expect([MsgFlag.head, MsgFlag.body, MsgFlag.end, MsgFlag.whole]).toStrictEqual([250, 251, 252, 255]);
    });
});
