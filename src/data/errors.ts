/**
 * The error type of the data module: every problem with input data names where it happened.
 * @module
 */

/** Where a {@linkcode DataError} happened: a file, optionally a line (1-based) and a field or column. */
export interface DataErrorLocation {
  /** Path or URL of the offending file. */
  readonly file: string;
  /** 1-based line number (text formats) when known. */
  readonly line?: number;
  /** Field, column or JSON key concerned, when relevant. */
  readonly field?: string;
}

/**
 * An input-data error. The message reads `file:line: field: reason` (parts that are unknown are left out),
 * so it can be printed as is; the parts are also available as properties.
 */
export class DataError extends Error {
  /** Path or URL of the offending file. */
  readonly file: string;
  /** 1-based line number, if known. */
  readonly line: number | undefined;
  /** Field, column or JSON key concerned, if any. */
  readonly field: string | undefined;
  /** The reason alone, without the location prefix. */
  readonly reason: string;

  /**
   * Creates the error; the message is built from the location and the reason.
   * @param location file (and optionally line and field) where the problem is
   * @param reason what is wrong, in words
   */
  constructor(location: DataErrorLocation, reason: string) {
    const where = location.line === undefined ? location.file : `${location.file}:${location.line}`;
    const field = location.field === undefined ? "" : `${location.field}: `;
    super(`${where}: ${field}${reason}`);
    this.name = "DataError";
    this.file = location.file;
    this.line = location.line;
    this.field = location.field;
    this.reason = reason;
  }
}
