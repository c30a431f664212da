/** A minimal FHIR JSON client for seeding and sanity checks (the measured load goes through autocannon). */
export class FhirHttp {
  constructor(
    readonly baseUrl: string,
    readonly token: string
  ) {}

  get fhirBase(): string {
    return `${this.baseUrl}/fhir/R4/`;
  }

  headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(this.fhirBase + path, {
      method,
      headers: this.headers(),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
    }
    return JSON.parse(text) as T;
  }
}
