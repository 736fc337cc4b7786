import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './cli-errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type WithHelp<O> = O & { help: { type: 'boolean'; short: 'h' } };

/**
 * A command's options, parsed strictly (an unknown or malformed flag is a UsageError that names it) with
 * `--help`/`-h` added. Returns undefined once the help text is printed: the command then exits 0.
 */
export function parseCommandArgs<const O extends Options>(argv: string[], options: O, help: string) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } } as WithHelp<O>,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help);
    return undefined;
  }
  return parsed.values;
}

/** Throws a UsageError naming the first of `flags` that was not given, in the order listed. */
export function requireFlags<V extends object, const F extends keyof V & string>(
  values: V,
  flags: readonly F[],
): asserts values is V & { [K in F]-?: NonNullable<V[K]> } {
  for (const flag of flags) {
    if (!values[flag]) throw new UsageError(`--${flag} is required.`);
  }
}
