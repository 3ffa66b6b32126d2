/**
 * Every wire constant, named once (protocol-notes.md §5, §6). Header `cmd` values are `Cmd`,
 * top-level JSON `code` values are `Code`, `content.code` inside a 301 forward is `ContentCode`.
 * MQTT command codes are a separate namespace (protocol-notes.md §7.4) and live with the MQTT codecs.
 */

/** Header `cmd` (protocol-notes.md §5). */
export const Cmd = {
    json: 0,
    jpeg: 1,
    g711: 4,
    pcm: 6,
    avi: 7,
    xml: 8,
    heartbeat: 100,
    ping: 101,
    pong: 102,
    directMotion: 114,
    liveMotion: 115,
    confirm: 605,
} as const;
export type Cmd = (typeof Cmd)[keyof typeof Cmd];
const KNOWN_CMDS = new Set<number>(Object.values(Cmd));
export const isCmd = (value: number): value is Cmd => KNOWN_CMDS.has(value);

/** Header `msgFlag` for media fragments (protocol-notes.md §9.2). */
export const MsgFlag = {
    none: 0,
    head: 250,
    body: 251,
    end: 252,
    whole: 255,
} as const;
export type MsgFlag = (typeof MsgFlag)[keyof typeof MsgFlag];

/** Top-level JSON `code` (protocol-notes.md §6.1). */
export const Code = {
    natRequest: 10,
    natRequestToDevice: 11,
    natResponseFromDevice: 12,
    devInfoResponse: 13,
    udpRequest: 20,
    udpResponse: 21,
    forwardIdRequest: 30,
    forwardIdResponse: 31,
    probeRequest: 50,
    probeResponse: 51,
    online: 52,
    deviceStatus: 53,
    timestampToDevice: 54,
    timestampFromDevice: 55,
    registerRequest: 100,
    registerResponse: 101,
    forward: 301,
    apConnect: 501,
    apCommand: 502,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

/** `content.code` inside a 301 forward (protocol-notes.md §6.2). */
export const ContentCode = {
    closeAudioCloseVideo: 0,
    openAudioCloseVideo: 1,
    closeAudioOpenVideo: 2,
    openAudioOpenVideo: 3,
    baseInfo: 4,
    speedGrade: 201,
    irLed: 202,
    moveMode: 203,
    setWifi: 204,
    moveAlert: 205,
    moveGrade: 206,
    sdCardFormat: 207,
    apMode: 208,
    sdCardReco: 209,
    instLed: 210,
    wifiScan: 211,
    motorState: 212,
    videoFlip: 216,
    sfq: 217,
    sdCardStatus: 218,
    retransmission: 298,
    reboot: 299,
} as const;
export type ContentCode = (typeof ContentCode)[keyof typeof ContentCode];
