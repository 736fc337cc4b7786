/** Where the engine's VALIDATION issues land in a form: each field shows the messages for its path. */

export interface Issue {
  path: string;
  message: string;
}

/**
 * The engine's message for one field. Paths are dotted ("schedules.0.cron", "vms.vmUuids"); a field also
 * shows the issues of what is inside it ("vms" shows "vms.vmUuids").
 */
export function issueAt(issues: Issue[] | undefined, path: string): string | undefined {
  const hits = (issues ?? []).filter((i) => normalise(i.path) === path || normalise(i.path).startsWith(`${path}.`));
  return hits.length ? [...new Set(hits.map((i) => i.message))].join('; ') : undefined;
}

function normalise(p: string): string {
  return p.replace(/\[(\d+)\]/g, '.$1').replace(/^\./, '');
}
