/**
 * Wires the capture recorder and the diagnostics API (issue 6 item 5) into a built app: the
 * CaptureHub becomes the capture tap of the camera servers and the HTTP server, and two route
 * groups are added: `GET /api/cameras/:id/capture` (NDJSON) and `GET /api/diagnostics`. Firmware
 * versions from code 4 replies go to the diagnostics table (the HTTP `version` header is recorded
 * by the HTTP server itself).
 *
 * MQTT: app.ts plugs `wiring.tap` into the camera-facing MQTT side (MqttHandle.setCapture, which calls
 * `tap.mqtt` for a captured camera's CONNECT / SUBSCRIBE / PUBLISH / disconnect and the commands sent
 * to it) and routes an Info `version` to `wiring.noteFirmware(id, version, "mqtt")`; it passes
 * `isMqttTapped: true` whenever MQTT is enabled.
 */
import type {CameraServer} from "../camera/cameraServer.js";
import {CaptureHub} from "../capture/captureHub.js";
import {splitAddress} from "../http/cameraJson.js";
import {CaptureRoutes, type CaptureRoutesOptions} from "../http/captureRoutes.js";
import type {FirmwareSource} from "../http/diagnostics.js";
import {DiagnosticsRoutes} from "../http/diagnosticsRoutes.js";
import type {HttpServer} from "../http/httpServer.js";
import type {CaptureTap} from "../model/captureTap.js";
import type {Logger} from "../util/log.js";

export interface CaptureWiringOptions extends CaptureRoutesOptions {
    /** Media packets recorded in full per camera, direction and cmd before 1 s summaries. Default 8. */
    readonly detailedMediaPackets?: number | undefined;
    /** Media summary window. Default 1000 ms. */
    readonly summaryIntervalMs?: number | undefined;
    /** Set when the MQTT side calls `tap.mqtt` (stated in every capture's first line). Default false. */
    readonly isMqttTapped?: boolean | undefined;
}

export interface CaptureWiringParts {
    readonly cameras: CameraServer;
    readonly http: HttpServer;
}

export interface CaptureWiring {
    /** The tap the MQTT side can call while `tap.isActive`. */
    readonly tap: CaptureTap;
    /** Records a firmware version for GET /api/diagnostics (e.g. from an MQTT Info). */
    noteFirmware(cameraId: string, version: string, source: FirmwareSource): void;
    /** Ends running captures and unplugs the tap. Idempotent. */
    stop(): void;
}

export function wireCapture(parts: CaptureWiringParts, options: CaptureWiringOptions, log: Logger): CaptureWiring {
    const {cameras, http} = parts;
    const registry = cameras.registry;
    const addressesOf = (id: string): string[] => {
        const addresses = new Set<string>();
        const address = registry.get(id)?.address;
        const peer = address === null || address === undefined ? undefined : splitAddress(address);
        if (peer !== undefined) {
            addresses.add(peer.host);
        }
        for (const request of http.diagnostics.recentRequestsOf(id)) {
            addresses.add(request.remoteAddress);
        }
        return [...addresses];
    };
    const hub = new CaptureHub({
        detailedMediaPackets: options.detailedMediaPackets,
        summaryIntervalMs: options.summaryIntervalMs,
        isMqttTapped: options.isMqttTapped,
        addressesOf,
        describe: (id) => {
            const view = registry.get(id);
            return {
                knownToCameraLayer: view !== undefined,
                ...(view === undefined
                    ? {}
                    : {
                          online: view.online,
                          address: view.address,
                          firmware: view.firmware,
                          streamState: view.streamState,
                          baseInfo: view.baseInfo,
                      }),
                recentRequests: http.diagnostics.recentRequestsOf(id, addressesOf(id)),
            };
        },
        log,
    });
    cameras.setCaptureTap(hub);
    http.setCaptureTap(hub);
    http.addRouteHandler(new CaptureRoutes(hub, options, log.child("route")));
    http.addRouteHandler(new DiagnosticsRoutes(http.diagnostics));
    const unsubscribe = registry.on("baseInfo", ({id, baseInfo}) => {
        const version = baseInfo["version"];
        if (typeof version === "string") {
            http.diagnostics.noteFirmware(id, version, "code4");
        }
    });
    let isStopped = false;
    return {
        tap: hub,
        noteFirmware: (id, version, source) => http.diagnostics.noteFirmware(id, version, source),
        stop: () => {
            if (isStopped) {
                return;
            }
            isStopped = true;
            unsubscribe();
            hub.stopAll("server stopping");
            cameras.setCaptureTap(undefined);
            http.setCaptureTap(undefined);
        },
    };
}
