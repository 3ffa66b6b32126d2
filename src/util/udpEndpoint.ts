/** Address checks shared by the server's sessions and the device simulator. */
import {isIP} from "node:net";

/**
 * Whether UDP can go to `address:port`: an IP literal other than 0.0.0.0 and 255.255.255.255, and a
 * port in 1..65535. Code 11 and code 12 may carry 255.255.255.255:0 or 0.0.0.0:0 as "none".
 */
export function isUsableEndpoint(address: string, port: number): boolean {
    return (
        isIP(address) !== 0 &&
        address !== "255.255.255.255" &&
        address !== "0.0.0.0" &&
        Number.isInteger(port) &&
        port > 0 &&
        port < 65_536
    );
}
