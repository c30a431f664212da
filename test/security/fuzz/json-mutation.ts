/**
 * Arbitraries for FHIR JSON: structural mutations of valid resources (delete, replace, null,
 * wrap in an array, wrong primitive type, deep nesting, `__proto__`, huge strings) and textual
 * mutations of the serialised body (truncation, inserted characters).
 */
import fc from 'fast-check';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const KINDS = ['delete', 'replace', 'null', 'wrap', 'empty-object', 'empty-string', 'number', 'deep', 'proto', 'long-string', 'bad-reference', 'bad-date'] as const;

export interface Mutation {
  readonly at: number;
  readonly kind: (typeof KINDS)[number];
  readonly value: unknown;
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom(...KINDS),
  value: fc.jsonValue({ maxDepth: 2 }),
});

export interface TextMutation {
  readonly at: number;
  readonly kind: 'truncate' | 'insert';
  readonly text: string;
}

export const textMutationArb: fc.Arbitrary<TextMutation | null> = fc.option(
  fc.record({ at: fc.nat(), kind: fc.constantFrom('truncate' as const, 'insert' as const), text: fc.string({ maxLength: 3, unit: 'binary' }) }),
  { freq: 8 }
);

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

function slots(value: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ parent: value, key: i });
      slots(v, out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push({ parent: value as Record<string, unknown>, key: k });
      slots(v, out);
    }
  }
  return out;
}

function nested(depth: number): unknown {
  let v: unknown = { url: 'x' };
  for (let i = 0; i < depth; i++) {
    v = { extension: [v], url: 'http://example.org/x' };
  }
  return v;
}

function set(slot: Slot, value: unknown): void {
  (slot.parent as Record<string | number, unknown>)[slot.key] = value;
}

export function applyMutations<T>(original: T, mutations: readonly Mutation[]): unknown {
  const copy = structuredClone(original) as unknown;
  for (const m of mutations) {
    const all = slots(copy);
    if (all.length === 0) {
      continue;
    }
    const slot = all[m.at % all.length];
    const current = (slot.parent as Record<string | number, unknown>)[slot.key];
    switch (m.kind) {
      case 'delete':
        if (Array.isArray(slot.parent)) {
          slot.parent.splice(slot.key as number, 1);
        } else {
          delete slot.parent[slot.key as string];
        }
        break;
      case 'replace':
        set(slot, m.value);
        break;
      case 'null':
        set(slot, null);
        break;
      case 'wrap':
        set(slot, [current]);
        break;
      case 'empty-object':
        set(slot, {});
        break;
      case 'empty-string':
        set(slot, '');
        break;
      case 'number':
        set(slot, typeof current === 'number' ? String(current) : 1e308 * (m.at % 2 ? 1 : -1));
        break;
      case 'deep':
        set(slot, nested(50 + (m.at % 400)));
        break;
      case 'proto':
        if (!Array.isArray(slot.parent)) {
          Object.defineProperty(slot.parent, '__proto__', { value: { resourceType: 'Patient', polluted: true }, enumerable: true, configurable: true, writable: true });
        }
        break;
      case 'long-string':
        set(slot, 'x'.repeat(1 + (m.at % 200_000)));
        break;
      case 'bad-reference':
        set(slot, { reference: ['Patient/', '../../Patient/1', 'Patient/a/b', `Patient/${'9'.repeat(300)}`, 'urn:uuid:nope', '#', 'http://evil.example/Patient/1'][m.at % 7] });
        break;
      case 'bad-date':
        set(slot, ['2025-02-30', '0000-00-00', '2025-01-01T25:00:00Z', '9999999-01-01', '', 'T'][m.at % 6]);
        break;
    }
  }
  return copy;
}

export function applyTextMutation(text: string, m: TextMutation | null): string {
  if (!m) {
    return text;
  }
  const at = m.at % (text.length + 1);
  return m.kind === 'truncate' ? text.slice(0, at) : text.slice(0, at) + m.text + text.slice(at);
}
