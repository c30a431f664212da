import type { IndexValues } from './index-values';

type Column = string | number | null;

/**
 * How one kind of index value becomes a row of its table: the INSERT (parameter id first, the
 * resource's rid last) and the columns in between. The store's write path and the raw-insert
 * baseline of `bench/bulk-import.ts` both use these, so the baseline always writes the rows the
 * store writes.
 */
export const INDEX_INSERT_SQL: Readonly<Record<IndexValues['kind'], string>> = {
  token: 'INSERT INTO ix_token (pid, value, system, rid) VALUES (?, ?, ?, ?)',
  string: 'INSERT INTO ix_string (pid, norm, raw, rid) VALUES (?, ?, ?, ?)',
  reference: 'INSERT INTO ix_reference (pid, ref, ref_id, rid) VALUES (?, ?, ?, ?)',
  date: 'INSERT INTO ix_date (pid, lo, hi, rid) VALUES (?, ?, ?, ?)',
  number: 'INSERT INTO ix_number (pid, lo, hi, system, unit, rid) VALUES (?, ?, ?, ?, ?, ?)',
  uri: 'INSERT INTO ix_uri (pid, value, rid) VALUES (?, ?, ?)',
};

/** The columns between `pid` and `rid` of each row `values` adds to its table. */
export function indexRowColumns(values: IndexValues): Column[][] {
  switch (values.kind) {
    case 'token':
      return values.rows.map((r) => [r.value, r.system]);
    case 'string':
      return values.rows.map((r) => [r.norm, r.raw]);
    case 'reference':
      return values.rows.map((r) => [r.ref, r.refId]);
    case 'date':
      return values.rows.map((r) => [r.lo, r.hi]);
    case 'number':
      return values.rows.map((r) => [r.lo, r.hi, r.system, r.unit]);
    case 'uri':
      return values.rows.map((r) => [r.value]);
  }
}
