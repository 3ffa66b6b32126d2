/**
 * Home Assistant side topic names (decisions.md 8). Pure. These names are permanent: users'
 * automations and HA's entity registry depend on them.
 *
 *   <base>/bridge/state             retained online/offline (LWT)
 *   <base>/bridge/info              retained JSON: version, cameras online
 *   <base>/bridge/<entity>/set      bridge buttons
 *   <base>/<id>/availability        retained online/offline
 *   <base>/<id>/state               retained JSON, one per camera
 *   <base>/<id>/<entity>/set        commands from HA
 *   <base>/<id>/snapshot            retained JPEG bytes
 */
import type {CameraId} from "../model/camera.js";

export const BRIDGE_NODE = "bridge";

export const bridgeStateTopic = (base: string): string => `${base}/${BRIDGE_NODE}/state`;
export const bridgeInfoTopic = (base: string): string => `${base}/${BRIDGE_NODE}/info`;
export const availabilityTopic = (base: string, id: CameraId): string => `${base}/${id}/availability`;
export const stateTopic = (base: string, id: CameraId): string => `${base}/${id}/state`;
export const snapshotTopic = (base: string, id: CameraId): string => `${base}/${id}/snapshot`;
/** `node` is a camera id or BRIDGE_NODE. */
export const commandTopic = (base: string, node: string, entity: string): string => `${base}/${node}/${entity}/set`;

/** One subscription for every command topic of this bridge instance. */
export const commandSubscription = (base: string): string => `${base}/+/+/set`;
/** Retained availability of every camera this instance ever published (used to clean stale `online`). */
export const availabilitySubscription = (base: string): string => `${base}/+/availability`;

/** `{node, entity}` for `<base>/<node>/<entity>/set`, else undefined. */
export function parseCommandTopic(base: string, topic: string): {node: string; entity: string} | undefined {
    const prefix = `${base}/`;
    if (!topic.startsWith(prefix)) {
        return undefined;
    }
    const parts = topic.slice(prefix.length).split("/");
    if (parts.length !== 3 || parts[2] !== "set") {
        return undefined;
    }
    const [node, entity] = parts;
    if (node === undefined || entity === undefined || node.length === 0 || entity.length === 0) {
        return undefined;
    }
    return {node, entity};
}

/** The camera id of `<base>/<id>/availability`, else undefined. */
export function parseAvailabilityTopic(base: string, topic: string): CameraId | undefined {
    const prefix = `${base}/`;
    const suffix = "/availability";
    if (!topic.startsWith(prefix) || !topic.endsWith(suffix)) {
        return undefined;
    }
    const id = topic.slice(prefix.length, topic.length - suffix.length);
    return id.length > 0 && !id.includes("/") && id !== BRIDGE_NODE ? id : undefined;
}

/** HA discovery ids must match `[a-zA-Z0-9_-]` (home-assistant-notes.md §1.1). */
export const discoveryId = (value: string): string => value.replace(/[^A-Za-z0-9_-]/g, "_");

/** Device identifier (decisions.md 8). */
export const cameraDeviceId = (id: CameraId): string => `v720_${id}`;
export const bridgeDeviceId = (base: string): string => `v720_bridge_${base}`;
export const cameraUniqueId = (id: CameraId, entity: string): string => `v720_${id}_${entity}`;
export const bridgeUniqueId = (base: string, entity: string): string => `v720_bridge_${base}_${entity}`;

/** `<prefix>/device/<id>/config` (issue 3 item 3). */
export const deviceDiscoveryTopic = (prefix: string, objectId: string): string =>
    `${prefix}/device/${discoveryId(objectId)}/config`;

/** `<prefix>/<platform>/<node>/<entity>/config` for the `component` fallback mode. */
export const componentDiscoveryTopic = (prefix: string, platform: string, node: string, entity: string): string =>
    `${prefix}/${platform}/${discoveryId(node)}/${discoveryId(entity)}/config`;

/** The object id of the bridge device's discovery topic. */
export const bridgeDiscoveryNode = (base: string): string => discoveryId(bridgeDeviceId(base));
