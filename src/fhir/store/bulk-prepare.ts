import { normalizeErrorString } from '@medplum/core';
import type { Reference, Resource } from '@medplum/fhirtypes';
import { stringify } from '@medplum/core';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ResourceValidatorOptions } from '../validation';
import { mayHaveValues, presentElements } from './index-prefilter';
import type { IndexValues } from './index-values';
import { extractIndexValues, indexedParams, UNINDEXED } from './index-values';
import { patientCompartments } from './patient-compartment';
import type { FoundReference } from './reference-check';
import { findLocalReferences } from './reference-check';
import type { WriteGuard } from './sqlite-store';

/** Index values of one search parameter, by code (the writer maps codes to parameter ids). */
export interface ParamValues {
  readonly code: string;
  readonly values: IndexValues;
}

/** The pure, per-resource part of a write, computed before the writer's transaction (maybe on another thread). */
export type Prepared =
  | {
      readonly ok: true;
      readonly compartment: Reference[];
      readonly index: ParamValues[];
      readonly refs: FoundReference[];
      /** The stored JSON (with meta.compartment). */
      readonly content: string;
    }
  | { readonly ok: false; readonly reason: string };


/** Every index value of a resource, skipping parameters whose elements it does not have. */
export function indexValuesOf(resource: Resource): ParamValues[] {
  const present = presentElements(resource);
  const out: ParamValues[] = [];
  for (const p of indexedParams(resource.resourceType)) {
    if (UNINDEXED.has(p.code) || !mayHaveValues(resource.resourceType, p, present)) {
      continue;
    }
    const values = extractIndexValues(resource, p);
    if (values) {
      out.push({ code: p.code, values });
    }
  }
  return out;
}

/**
 * Validates (when `validate` is given), then computes what the writer would: patient
 * compartments, index values, local references and the stored JSON. `resource` already carries
 * its id, versionId and lastUpdated; it gains meta.compartment.
 */
export function prepareResource(resource: Resource & { id: string }, validate: ((r: Resource) => void) | undefined, fhirBase: string): Prepared {
  try {
    validate?.(resource);
    const compartment = patientCompartments(resource);
    if (compartment.length > 0) {
      resource.meta = { ...resource.meta, compartment };
    }
    return { ok: true, compartment, index: indexValuesOf(resource), refs: findLocalReferences(resource, fhirBase), content: stringify(resource) };
  } catch (err) {
    return { ok: false, reason: normalizeErrorString(err) };
  }
}

/**
 * A write guard that validates with a validator built from `options` alone, so the bulk path can
 * run it on worker threads (the other core) while the writer thread inserts the previous batch.
 */
export interface OffThreadGuard extends WriteGuard {
  readonly offThread: ResourceValidatorOptions;
}

export function isOffThreadGuard(guard: WriteGuard): guard is OffThreadGuard {
  return (guard as Partial<OffThreadGuard>).offThread !== undefined;
}

interface Job {
  readonly resolve: (prepared: Prepared[]) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Worker threads that validate and prepare resources for the bulk path. Started on first use
 * (each builds its own validator: about a second), unref'd so they never keep the process alive.
 * Resources go in and come back as JSON text: one parse on each side is cheaper than
 * structured-cloning deep objects.
 */
export class PreparePool {
  private readonly workers: Worker[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextJob = 0;
  private nextWorker = 0;
  private broken: unknown;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly validator: ResourceValidatorOptions,
    private readonly fhirBase: string,
    // One per core: the writer thread's share (the inserts) is about a third of the work, so on
    // two cores two workers plus the writer keep both busy, where one worker would be the bottleneck.
    private readonly size = Math.max(1, availableParallelism())
  ) {}

  get threads(): number {
    return this.size;
  }

  prepare(resources: readonly Resource[]): Promise<Prepared[]> {
    if (this.broken) {
      return Promise.reject(this.broken);
    }
    clearTimeout(this.idleTimer);
    this.start();
    // Split across workers, then reassemble in order.
    const chunk = Math.ceil(resources.length / this.workers.length);
    const parts: Promise<Prepared[]>[] = [];
    for (let from = 0; from < resources.length; from += chunk) {
      parts.push(this.send(resources.slice(from, from + chunk)));
    }
    return Promise.all(parts).then(
      (lists) => {
        this.stopWhenIdle();
        return lists.flat();
      },
      (err: unknown) => {
        this.stopWhenIdle();
        throw err;
      }
    );
  }

  /** Idle workers hold a validator each (tens of MB): they go after a while without imports. */
  private stopWhenIdle(): void {
    if (this.jobs.size > 0) {
      return;
    }
    // Idle workers must not keep a CLI or benchmark process alive once its import is done.
    for (const worker of this.workers) {
      worker.unref();
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      const workers = this.workers.splice(0);
      for (const worker of workers) {
        worker.removeAllListeners('exit');
        void worker.terminate();
      }
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  private send(resources: readonly Resource[]): Promise<Prepared[]> {
    const id = this.nextJob++;
    const worker = this.workers[this.nextWorker++ % this.workers.length];
    worker.ref();
    return new Promise<Prepared[]>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      worker.postMessage({ id, json: JSON.stringify(resources) });
    });
  }

  private start(): void {
    if (this.workers.length > 0) {
      return;
    }
    const file = join(__dirname, `bulk-prepare-worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
    for (let i = 0; i < this.size; i++) {
      const worker = new Worker(file, { workerData: { validator: this.validator, fhirBase: this.fhirBase } });
      worker.unref();
      worker.on('message', (msg: { id: number; json: string; contents: string[] }) => {
        const job = this.jobs.get(msg.id);
        this.jobs.delete(msg.id);
        const prepared = JSON.parse(msg.json) as Prepared[];
        job?.resolve(prepared.map((p, i) => (p.ok ? { ...p, content: msg.contents[i] } : p)));
      });
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => this.fail(new Error(`bulk prepare worker exited with code ${code}`)));
      this.workers.push(worker);
    }
  }

  private fail(err: unknown): void {
    this.broken ??= err;
    for (const job of this.jobs.values()) {
      job.reject(err);
    }
    this.jobs.clear();
  }
}

const IDLE_MS = 60_000;

const pools = new Map<string, PreparePool>();
let workerCount: number | undefined;

/** 0: prepare in the writer thread (benchmarks compare both); undefined: worker threads, one per core. */
export function setBulkPrepareWorkers(count: number | undefined): void {
  workerCount = count;
}

/** One pool per validator configuration and base URL, shared by every store in the process; undefined when off. */
export function preparePool(validator: ResourceValidatorOptions, fhirBase: string): PreparePool | undefined {
  if (workerCount === 0) {
    return undefined;
  }
  const key = JSON.stringify([validator, fhirBase]);
  let pool = pools.get(key);
  if (!pool) {
    pool = new PreparePool(validator, fhirBase);
    pools.set(key, pool);
  }
  return pool;
}
