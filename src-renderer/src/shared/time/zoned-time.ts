/**
 * A job's times as its schedule means them: in the schedule's own zone, which is named, never silently in the
 * zone of the machine showing them ("02:00 Europe/Paris", not "1:00:00 AM").
 */
export function formatInZone(at: Date | string, timezone: string): string {
  const d = new Date(at);
  try {
    const text = new Intl.DateTimeFormat(undefined, {
      timeZone: timezone,
      weekday: 'short',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(d);
    return `${text} ${timezone}`;
  } catch {
    return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  }
}
