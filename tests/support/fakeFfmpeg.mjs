#!/usr/bin/env node
// A stand-in for ffmpeg in tests (house-style §4.8): answers -version and -encoders like ffmpeg, and
// otherwise behaves as FAKE_FFMPEG_MODE says:
//   run   (default) print "ready" on stdout, count stdin bytes, exit FAKE_FFMPEG_EXIT_CODE (0) at stdin EOF
//   crash print a line on stderr and exit FAKE_FFMPEG_EXIT_CODE (1) after FAKE_FFMPEG_DELAY_MS (50)
//   stall never read stdin; with FAKE_FFMPEG_IGNORE_TERM=1 also ignore SIGTERM
// Every run appends "<pid>\n" to FAKE_FFMPEG_RUN_LOG when set.
import {appendFileSync} from "node:fs";

const args = process.argv.slice(2);
if (args.includes("-version")) {
    process.stdout.write("ffmpeg version 9.9-fake Copyright (c) 2000-2026 the FFmpeg developers\nbuilt with a test\n");
    process.exit(0);
}
if (args.includes("-encoders")) {
    process.stdout.write(
        [
            "Encoders:",
            " V..... = Video",
            " ------",
            " V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)",
            " A..... aac                  AAC (Advanced Audio Coding)",
            "",
        ].join("\n"),
    );
    process.exit(0);
}
const mode = process.env.FAKE_FFMPEG_MODE ?? "run";
const exitCode = Number(process.env.FAKE_FFMPEG_EXIT_CODE ?? (mode === "crash" ? 1 : 0));
if (process.env.FAKE_FFMPEG_RUN_LOG) {
    appendFileSync(process.env.FAKE_FFMPEG_RUN_LOG, `${process.pid}\n`);
}
process.stderr.write(`fake ffmpeg ${process.pid}: mode ${mode}\n`);

if (mode === "crash") {
    setTimeout(
        () => {
            process.stderr.write("fake ffmpeg: Conversion failed!\n");
            process.exit(exitCode);
        },
        Number(process.env.FAKE_FFMPEG_DELAY_MS ?? 50),
    );
} else if (mode === "stall") {
    process.stdin.pause();
    if (process.env.FAKE_FFMPEG_IGNORE_TERM === "1") {
        process.on("SIGTERM", () => process.stderr.write("fake ffmpeg: ignoring SIGTERM\n"));
    }
    setInterval(() => undefined, 1000);
} else {
    let bytes = 0;
    process.stdout.write("ready\n");
    process.stdin.on("data", (chunk) => {
        bytes += chunk.length;
    });
    process.stdin.on("end", () => {
        process.stdout.write(`stdin-bytes=${bytes}\n`, () => process.exit(exitCode));
    });
}
