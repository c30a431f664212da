import type { DatabaseSync } from 'node:sqlite';
import { indexedParams } from './index-values';

/**
 * Maps (resource type, search parameter code) to the small integer id used in the index tables.
 * Every known parameter is registered once at open, in its own transaction, so ids never come
 * from a write transaction that might roll back; they are stored, so they stay the same across
 * restarts and across processes sharing the file.
 */
export class SearchParamRegistry {
  private readonly ids = new Map<string, number>();

  constructor(writer: DatabaseSync, resourceTypes: readonly string[]) {
    const insert = writer.prepare('INSERT OR IGNORE INTO search_param (type, code) VALUES (?, ?)');
    writer.exec('BEGIN IMMEDIATE');
    try {
      for (const type of resourceTypes) {
        for (const p of indexedParams(type)) {
          insert.run(type, p.code);
        }
      }
      writer.exec('COMMIT');
    } catch (err) {
      writer.exec('ROLLBACK');
      throw err;
    }
    for (const row of writer.prepare('SELECT pid, type, code FROM search_param').all() as { pid: number; type: string; code: string }[]) {
      this.ids.set(row.type + '|' + row.code, row.pid);
    }
  }

  /** The id of a parameter, or undefined if the type has no such indexed parameter. */
  lookup(type: string, code: string): number | undefined {
    return this.ids.get(type + '|' + code);
  }
}
