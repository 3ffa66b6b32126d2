/**
 * `v720-bridge wifi` and `v720-bridge sd` (issue 5 item 3) against the AP-mode personality of the simulator on
 * 127.0.0.1 (ephemeral port), including a camera that never answers and a download cut in the middle.
 */
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {createServer} from "node:net";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, afterEach, describe, expect, it} from "vitest";
import {type CliIo, runSdCommand, runWifiCommand} from "../../src/ap/apCommands.js";
import {AP_DEV_TARGET, AP_TEST_TOKEN, ApCode} from "../../src/protocol/apMessages.js";
import {ContentCode} from "../../src/protocol/commands.js";
import type {WireMessage} from "../../src/protocol/messages.js";
import {ApCamera, type ApCameraOptions, syntheticAviBytes} from "../../src/simulator/apCamera.js";

const cameras: ApCamera[] = [];
const dirs: string[] = [];

afterEach(async () => {
    await Promise.all(cameras.splice(0).map((camera) => camera.stop()));
});

afterAll(() => {
    for (const dir of dirs.splice(0)) {
        rmSync(dir, {recursive: true, force: true});
    }
});

async function startCamera(options: ApCameraOptions = {}): Promise<{camera: ApCamera; address: string}> {
    const camera = new ApCamera(options);
    cameras.push(camera);
    const port = await camera.start();
    return {camera, address: `127.0.0.1:${port}`};
}

interface CapturedIo extends CliIo {
    readonly out: () => string;
    readonly err: () => string;
}

function captureIo(isTTY = false): CapturedIo {
    let out = "";
    let err = "";
    return {
        stdout: {
            write: (text: string) => {
                out += text;
                return true;
            },
        },
        stderr: {
            isTTY,
            write: (text: string) => {
                err += text;
                return true;
            },
        },
        out: () => out,
        err: () => err,
    };
}

function makeDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "v720-ap-"));
    dirs.push(dir);
    return dir;
}

function byCode(messages: readonly WireMessage[], code: number, contentCode?: number): WireMessage[] {
    return messages.filter((message) => {
        if (message.code !== code) {
            return false;
        }
        if (contentCode === undefined) {
            return true;
        }
        const content = message["content"] as {code?: unknown} | undefined;
        return content?.code === contentCode;
    });
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return typeof address === "object" && address !== null ? address.port : 0;
}

describe("v720-bridge wifi", () => {
    it("sends 115, 501 with local time, 502 {204} and 502 {299}, over split TCP segments", async () => {
        const {camera, address} = await startCamera({faults: {splitWritesMaxBytes: 7}});
        const io = captureIo();
        const before = Math.floor(Date.now() / 1000) - new Date().getTimezoneOffset() * 60;
        const code = await runWifiCommand(
            ["--ssid", "Home Net ✓", "--password", "p@ss word1", "--camera", address],
            io,
        );
        expect(io.err()).toBe("");
        expect(code).toBe(0);
        expect(camera.wifi).toStrictEqual({ssid: "Home Net ✓", password: "p@ss word1"});
        const [login] = byCode(camera.messages, ApCode.connect);
        expect(login).toMatchObject({target: AP_DEV_TARGET, token: AP_TEST_TOKEN});
        expect(camera.lastUnixTimer).toBeGreaterThanOrEqual(before);
        expect(camera.lastUnixTimer).toBeLessThanOrEqual(before + 60);
        expect(byCode(camera.messages, ApCode.command, ContentCode.setWifi)).toStrictEqual([
            {code: 502, content: {code: 204, s: "Home Net ✓", p: "p@ss word1", devTarget: AP_DEV_TARGET}},
        ]);
        expect(byCode(camera.messages, ApCode.command, ContentCode.reboot)).toStrictEqual([
            {code: 502, content: {code: 299, devTarget: AP_DEV_TARGET}},
        ]);
        // 501 came after 115 was answered, 204 after 501, 299 last.
        expect(camera.messages.map((message) => message.code)).toStrictEqual([501, 502, 502]);
        expect(io.out()).toContain('Sent the Wi-Fi settings for "Home Net ✓"');
        expect(io.out()).toContain("The camera confirmed them.");
    });

    it("counts a camera that drops its access point on 204 as a success and sends no 299", async () => {
        const {camera, address} = await startCamera({faults: {dropOnWifiJoin: true}});
        const io = captureIo();
        const code = await runWifiCommand(["--ssid", "Home", "--password", "12345678", "--camera", address], io);
        expect(code).toBe(0);
        expect(camera.wifi).toStrictEqual({ssid: "Home", password: "12345678"});
        expect(byCode(camera.messages, ApCode.command, ContentCode.reboot)).toHaveLength(0);
        expect(io.out()).toContain("closed its access point right away");
    });

    it("skips the restart with --no-reboot", async () => {
        const {camera, address} = await startCamera();
        const code = await runWifiCommand(
            ["--ssid", "Home", "--password", "12345678", "--camera", address, "--no-reboot"],
            captureIo(),
        );
        expect(code).toBe(0);
        expect(byCode(camera.messages, ApCode.command, ContentCode.reboot)).toHaveLength(0);
    });

    it.each([
        {name: "a 7-character password", args: ["--ssid", "Home", "--password", "1234567"], text: "this one has 7"},
        {
            name: "a 37-character password",
            args: ["--ssid", "Home", "--password", "x".repeat(37)],
            text: "this one has 37",
        },
        {name: "an empty SSID", args: ["--ssid", "", "--password", "12345678"], text: "--ssid is required"},
        {name: "no password", args: ["--ssid", "Home"], text: "--password is required"},
        {name: "an unknown option", args: ["--ssid", "Home", "--password", "12345678", "--pw", "x"], text: "--pw"},
    ])("rejects $name before connecting (exit 2)", async ({args, text}) => {
        const {camera, address} = await startCamera();
        const io = captureIo();
        const code = await runWifiCommand([...args, "--camera", address], io);
        expect(code).toBe(2);
        expect(io.err()).toContain(text);
        expect(camera.stats.connections).toBe(0);
    });

    it("accepts passwords of exactly 8 and 36 characters", async () => {
        const {camera, address} = await startCamera();
        for (const password of ["8chars!!", "y".repeat(36)]) {
            expect(
                await runWifiCommand(["--ssid", "Home", "--password", password, "--camera", address], captureIo()),
            ).toBe(0);
            expect(camera.wifi?.password).toBe(password);
        }
    });

    it("says which step timed out when the camera never answers", async () => {
        const {camera, address} = await startCamera({faults: {neverAnswer: true}});
        const io = captureIo();
        const startedAt = Date.now();
        const code = await runWifiCommand(
            ["--ssid", "Home", "--password", "12345678", "--camera", address, "--timeout", "0.3"],
            io,
        );
        expect(code).toBe(1);
        expect(io.err()).toContain(
            "accepted the connection but did not answer the session open (cmd 115) within 0.3 s",
        );
        expect(Date.now() - startedAt).toBeLessThan(5000);
        expect(camera.wifi).toBeUndefined();
        expect(io.out()).toBe("");
    });

    it("names the login step when the camera answers 115 but not 501", async () => {
        const {camera, address} = await startCamera({faults: {silentFrom: "501"}});
        const io = captureIo();
        const code = await runWifiCommand(
            ["--ssid", "Home", "--password", "12345678", "--camera", address, "--timeout", "0.3"],
            io,
        );
        expect(code).toBe(1);
        expect(io.err()).toContain("did not answer the login (code 501)");
        expect(camera.wifi).toBeUndefined();
    });

    it("reports a refused login (501 status 500)", async () => {
        const {camera, address} = await startCamera({faults: {connectStatus: 500}});
        const io = captureIo();
        expect(await runWifiCommand(["--ssid", "Home", "--password", "12345678", "--camera", address], io)).toBe(1);
        expect(io.err()).toContain("refused the login (code 501, status 500)");
        expect(camera.wifi).toBeUndefined();
    });

    it("explains a refused TCP connection", async () => {
        const port = await closedPort();
        const io = captureIo();
        const code = await runWifiCommand(
            ["--ssid", "Home", "--password", "12345678", "--camera", `127.0.0.1:${port}`, "--timeout", "2"],
            io,
        );
        expect(code).toBe(1);
        expect(io.err()).toContain(`127.0.0.1:${port} refused the connection`);
    });
});

describe("v720-bridge sd list", () => {
    it("lists days and HH:MM recordings from 400 and 402 + multi-packet XML", async () => {
        const {address} = await startCamera({faults: {splitWritesMaxBytes: 13}, xmlChunkBytes: 17});
        const io = captureIo();
        const code = await runSdCommand(["list", "--camera", address], io);
        expect(io.err()).toBe("");
        expect(code).toBe(0);
        expect(io.out()).toContain("2023-01-23  2 recordings\n  02:05 02:06\n");
        expect(io.out()).toContain("2023-01-24  1 recording\n  14:59\n");
        expect(io.out()).toContain("v720-bridge sd download 20230123-02-05 -o 20230123-02-05.avi");
    });

    it("prints JSON for one day with --date", async () => {
        const recordings = [0, 1, 30, 59].map((minute) => ({
            date: 20240229,
            hours: 23,
            minute,
            bytes: Buffer.from("x"),
        }));
        const {camera, address} = await startCamera({recordings});
        const io = captureIo();
        expect(await runSdCommand(["list", "--date", "2024-02-29", "--json", "--camera", address], io)).toBe(0);
        expect(JSON.parse(io.out())).toStrictEqual({
            camera: address,
            days: [
                {
                    date: "2024-02-29",
                    recordings: [
                        {name: "20240229-23-00", time: "23:00"},
                        {name: "20240229-23-01", time: "23:01"},
                        {name: "20240229-23-30", time: "23:30"},
                        {name: "20240229-23-59", time: "23:59"},
                    ],
                },
            ],
        });
        expect(byCode(camera.messages, ApCode.sdDates)).toHaveLength(0); // --date skips 400
        expect(byCode(camera.messages, ApCode.sdFiles)).toStrictEqual([
            {code: 402, devTarget: AP_DEV_TARGET, date: 20240229},
        ]);
    });

    it("finds the end of the XML when the 403 reply has no fileSize", async () => {
        const {address} = await startCamera({faults: {omitCatalogueSize: true}, xmlChunkBytes: 9});
        const io = captureIo();
        expect(await runSdCommand(["list", "--date", "20230124", "--camera", address], io)).toBe(0);
        expect(io.out()).toContain("2023-01-24  1 recording\n  14:59\n");
    });

    it("reports a camera without an SD card", async () => {
        const {address} = await startCamera({faults: {noSdCard: true}});
        const io = captureIo();
        expect(await runSdCommand(["list", "--camera", address], io)).toBe(1);
        expect(io.err()).toContain("no SD card");
    });

    it("names the listing step when the camera goes quiet after the login", async () => {
        const {address} = await startCamera({faults: {silentFrom: "sd"}});
        const io = captureIo();
        expect(await runSdCommand(["list", "--camera", address, "--timeout", "0.3"], io)).toBe(1);
        expect(io.err()).toContain("did not answer the list of recording days (code 400)");
    });
});

describe("v720-bridge sd download", () => {
    it("writes exactly the cmd 7 payloads (no JSON, no PCM, no duplicates) and renames .part", async () => {
        const key = {date: 20230123, hours: 2, minute: 6};
        const bytes = syntheticAviBytes(key, 120_017);
        const {camera, address} = await startCamera({
            recordings: [{...key, bytes}],
            windowPackets: 16,
            faults: {interleaveNoise: true, duplicateChunkEvery: 4, splitWritesMaxBytes: 600},
        });
        const dir = makeDir();
        const file = join(dir, "clip.avi");
        const io = captureIo();
        const code = await runSdCommand(["download", "20230123-02-06", "-o", file, "--camera", address], io);
        expect(io.err()).not.toContain("failed");
        expect(code).toBe(0);
        expect(existsSync(`${file}.part`)).toBe(false);
        const written = readFileSync(file);
        expect(written.length).toBe(bytes.length);
        expect(written.equals(bytes)).toBe(true);
        expect(written.includes('"code"')).toBe(false);
        // The window is 16 packets of 1004 bytes, so 120 kB needed several rounds of 605 confirms.
        expect(camera.stats.confirmsReceived).toBeGreaterThanOrEqual(Math.floor(bytes.length / 1004 / 16));
        expect(camera.stats.downloadsCompleted).toBe(1);
        expect(io.out()).toContain(`Saved 20230123-02-06 to ${file} (120017 bytes).`);
        expect(io.err()).toContain("20230123-02-06: 100% (117 KiB of 117 KiB)\n");
        expect(io.err().match(/20230123-02-06: \d+%/g)).toHaveLength(10); // plain lines, one per 10 %
        const request = byCode(camera.messages, ApCode.sdDownload);
        expect(request).toStrictEqual([{code: 406, devTarget: AP_DEV_TARGET, date: 20230123, hours: 2, minute: 6}]);
    });

    it("draws a progress bar when stderr is a terminal", async () => {
        const {address} = await startCamera();
        const io = captureIo(true);
        const file = join(makeDir(), "a.avi");
        expect(await runSdCommand(["download", "20230124-14-59", "-o", file, "--camera", address], io)).toBe(0);
        expect(io.err()).toMatch(/\r20230124-14-59 \[#{24}\] 100%/);
        expect(io.err().endsWith("\n")).toBe(true);
    });

    it("leaves FILE.part and exits 1 when the camera cuts the download in the middle", async () => {
        const key = {date: 20230123, hours: 2, minute: 5};
        const bytes = syntheticAviBytes(key, 100_000);
        const {camera, address} = await startCamera({
            recordings: [{...key, bytes}],
            faults: {cutDownloadAfterBytes: 40_000},
        });
        const file = join(makeDir(), "cut.avi");
        writeFileSync(`${file}.part`, "stale data from an earlier attempt");
        const io = captureIo();
        const code = await runSdCommand(["download", "20230123-02-05", "-o", file, "--camera", address], io);
        expect(code).toBe(1);
        expect(camera.stats.downloadsCut).toBe(1);
        expect(existsSync(file)).toBe(false);
        const part = readFileSync(`${file}.part`);
        expect(part.length).toBeGreaterThanOrEqual(40_000);
        expect(part.length).toBeLessThan(bytes.length);
        expect(part.equals(bytes.subarray(0, part.length))).toBe(true);
        expect(io.err()).toContain("download of 20230123-02-05 failed: the camera closed the connection after");
        expect(io.err()).toContain(`of 100000 bytes`);
        expect(io.err()).toContain(`${file}.part`);
    });

    it("fails when the camera sends the end marker (411) before the whole file", async () => {
        const key = {date: 20230123, hours: 2, minute: 5};
        const {address} = await startCamera({
            recordings: [{...key, bytes: syntheticAviBytes(key, 30_000)}],
            faults: {endDownloadEarlyAfterBytes: 20_000},
        });
        const file = join(makeDir(), "short.avi");
        const io = captureIo();
        expect(await runSdCommand(["download", "20230123-02-05", "-o", file, "--camera", address], io)).toBe(1);
        expect(io.err()).toMatch(/the camera ended the file after 20080 of 30000 bytes/);
        expect(existsSync(file)).toBe(false);
        expect(readFileSync(`${file}.part`).length).toBe(20_080);
    });

    it("gives up with a message when the camera stops sending without closing", async () => {
        const key = {date: 20230123, hours: 2, minute: 5};
        const {address} = await startCamera({
            recordings: [{...key, bytes: syntheticAviBytes(key, 30_000)}],
            faults: {stallDownloadAfterBytes: 10_000},
        });
        const file = join(makeDir(), "stall.avi");
        const io = captureIo();
        const code = await runSdCommand(
            ["download", "20230123-02-05", "-o", file, "--camera", address, "--timeout", "0.4"],
            io,
        );
        expect(code).toBe(1);
        expect(io.err()).toContain("the camera stopped sending after");
        expect(existsSync(file)).toBe(false);
        expect(readFileSync(`${file}.part`).length).toBeGreaterThanOrEqual(10_000);
    });

    it("reports a recording that does not exist without creating a file", async () => {
        const {address} = await startCamera();
        const file = join(makeDir(), "none.avi");
        const io = captureIo();
        expect(await runSdCommand(["download", "20230123-03-00", "-o", file, "--camera", address], io)).toBe(1);
        expect(io.err()).toContain("no such recording");
        expect(io.err()).toContain("v720-bridge sd list");
        expect(existsSync(`${file}.part`)).toBe(false);
    });

    it.each([
        {args: ["download", "2023-01-23-02-05", "-o", "x.avi"], text: "not a recording name"},
        {args: ["download", "20230123-24-00", "-o", "x.avi"], text: "not a recording name"},
        {args: ["download", "20230123-02-05"], text: "needs -o FILE"},
        {args: ["list", "--date", "20231301"], text: "not a date"},
        {args: ["erase"], text: 'unknown action "erase"'},
        {args: ["list", "--camera", "host:99999"], text: "--camera expects HOST[:PORT]"},
    ])("rejects $args with exit 2", async ({args, text}) => {
        const io = captureIo();
        expect(await runSdCommand(args, io)).toBe(2);
        expect(io.err()).toContain(text);
    });

    it("prints the usage with --help", async () => {
        const io = captureIo();
        expect(await runSdCommand(["--help"], io)).toBe(0);
        expect(io.out()).toContain("v720-bridge sd download YYYYMMDD-HH-MM -o FILE");
    });
});
