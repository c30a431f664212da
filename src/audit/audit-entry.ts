/** One access to patient data, as the audit log keeps it (mapped to a FHIR AuditEvent on read). */
export interface AuditEntry {
  /** C create, R read/vread/history, U update/patch, D delete, E search/execute (FHIR AuditEvent.action). */
  readonly action: 'C' | 'R' | 'U' | 'D' | 'E';
  /** The FHIR interaction, e.g. `read`, `search-type`, `create`. */
  readonly interaction: string;
  /** 0 success, 4 refused (4xx), 8 failed (5xx). */
  readonly outcome: '0' | '4' | '8';
  /** Outcome text for a refusal or failure. */
  readonly outcomeDesc?: string;
  /** Acting principal reference, e.g. `Practitioner/123` or `ClientApplication/x`. */
  readonly agent: string;
  readonly clientId: string;
  readonly tokenId: string;
  /** The resources touched, as `Type/id` references (for a search: what it returned). */
  readonly entities: readonly string[];
  /** Patients whose data was touched (`Patient/<id>`). */
  readonly patients: readonly string[];
  /** The search query, for searches. */
  readonly query?: string;
  /**
   * The data set an operation on many resources worked on (a bulk import: the file or URL) and
   * what it did, in words (counts of created / updated / unchanged / refused).
   */
  readonly dataSet?: { readonly name: string; readonly description: string };
  /** Remote address of the request, when known. */
  readonly sourceAddress?: string;
}

/** Where audit entries go. The server's implementation makes them durable before the response is sent. */
export interface AuditSink {
  record(entry: AuditEntry): Promise<void>;
}
