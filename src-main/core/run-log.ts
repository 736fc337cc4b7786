/** The log every long operation (backup, restore, export, verify, merge) writes to: the CLI, the UI and the run record read it. */
export type LogLevel = 'info' | 'warn' | 'error';
export type BackupLog = (level: LogLevel, message: string, context?: Record<string, string>) => void;
