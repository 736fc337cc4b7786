/** Builds dist-cli/ (the CLI bundle bin/sluice.js runs). */
export function buildCli(): Promise<void>;
