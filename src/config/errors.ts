/**
 * A configuration problem: a bad file, a bad key or value, a bad environment override.
 * The message is meant for the user as is (main.ts prints it and exits 1 before opening a port).
 */
export class ConfigError extends Error {
    override readonly name = "ConfigError";
    /** Where the configuration came from (file path, "defaults", plus the overrides applied). */
    readonly source: string;

    constructor(message: string, source: string, options?: ErrorOptions) {
        super(message, options);
        this.source = source;
    }
}
