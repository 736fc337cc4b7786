import { BACKUP_ENDS, type FlowEnds } from '../../src-shared/bottleneck-words.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { ProgressRenderer } from './progress-renderer.js';

export type CommandLog = (level: 'info' | 'warn' | 'error', message: string, context?: Record<string, string>) => void;

/**
 * What a long command prints: progress bars and plain lines for a person, or one JSON event per line
 * (`--json`) for a script. Every command that moves data speaks through one of these, so both forms agree.
 */
export class CommandOutput {
  private readonly renderer: ProgressRenderer | undefined;

  /** `ends`: what the transfers read and write, for the progress lines' words (a restore reads the remote). */
  constructor(
    readonly json: boolean,
    ends: FlowEnds = BACKUP_ENDS,
  ) {
    this.renderer = json ? undefined : new ProgressRenderer(process.stderr, ends);
  }

  emit(obj: unknown): void {
    process.stdout.write(JSON.stringify(obj) + '\n');
  }

  readonly log: CommandLog = (level, message, context) => {
    if (this.json) this.emit({ type: 'log', level, message, context, at: new Date().toISOString() });
    else this.renderer!.log(`${level === 'info' ? '' : `${level}: `}${message}`);
  };

  readonly progress = (p: TransferProgress): void => {
    if (this.json) this.emit({ type: 'progress', ...p });
    else this.renderer!.update(p);
  };

  stop(): void {
    this.renderer?.stop();
  }
}
