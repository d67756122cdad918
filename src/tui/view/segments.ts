/** A run of styled text within one row. */
export type Segment = {
  text: string;
  color?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
  /** An address the terminal opens when this text is clicked (OSC 8). */
  link?: string;
  /**
   * The text holds the app's own colour sequences (a picture's half blocks) and is drawn as it is, without
   * the styles above; never set on text that came from the server.
   */
  raw?: boolean;
};

/** One terminal row of styled runs, with a stable React key. */
export type Row = { key: string; segments: Segment[] };
