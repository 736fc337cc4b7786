/** A XAPI failure: the code and string parameters a real host puts in ErrorDescription / error.data. */
export class XapiError extends Error {
  readonly params: string[];

  constructor(
    readonly code: string,
    params: readonly (string | number)[] = [],
  ) {
    super(`${code}(${params.join(', ')})`);
    this.name = 'XapiError';
    this.params = params.map(String);
  }

  /** [code, ...params], as task.error_info and XML-RPC ErrorDescription carry it. */
  get description(): string[] {
    return [this.code, ...this.params];
  }
}

export const VDI_IO_ERROR = (): XapiError => new XapiError('VDI_IO_ERROR', ['Device I/O errors']);
