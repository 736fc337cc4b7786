// The XAPI classes the simulator models, spelled as XAPI spells them in method names and HANDLE_INVALID.
export const XAPI_CLASSES = [
  'pool',
  'host',
  'SR',
  'PBD',
  'VM',
  'VBD',
  'VDI',
  'VIF',
  'VTPM',
  'network',
  'PIF',
  'task',
] as const;
export type XapiClass = (typeof XAPI_CLASSES)[number];

const byLowerName = new Map<string, XapiClass>(XAPI_CLASSES.map((c) => [c.toLowerCase(), c]));

/** Method names and event.from filters use any case ("vm", "VM"); events report lowercase. */
export function classByName(name: string): XapiClass | undefined {
  return byLowerName.get(name.toLowerCase());
}
