import type { Filter, SearchRequest, WithId } from '@medplum/core';
import {
  badRequest,
  forbidden,
  isResourceType,
  getStatus,
  matchesSearchRequest,
  normalizeOperationOutcome,
  notFound,
  OperationOutcomeError,
  Operator,
  parseSearchRequest,
} from '@medplum/core';
import type {
  CreateResourceOptions,
  DeleteResourceOptions,
  ReadHistoryOptions,
  RepositoryMode,
  SearchOptions,
  TransactionOptions,
  UpdateResourceOptions,
} from '@medplum/fhir-router';
import { FhirRepository, getExtraEntries } from '@medplum/fhir-router';
import type { Operation } from '@medplum/core';
import type { Bundle, BundleEntry, OperationOutcome, Parameters, Reference, Resource, ResourceType } from '@medplum/fhirtypes';
import type { AccessContext, AccessDecision, ScopeInteraction } from '../../auth/access-context';
import type { AuditEntry, AuditSink } from '../../audit/audit-entry';
import { indexedParams } from '../store/index-values';
import type { BinaryContent } from '../store/resource-reader';
import { isPatientDataType, patientCompartments } from '../store/patient-compartment';
import { assertReferencesResolve, findLocalReferences } from '../store/reference-check';
import type { SqliteRepository } from '../store/sqlite-repository';
import { searchByReferenceVia } from '../search-by-reference';

export type Authorize = (access: AccessContext, resourceType: string, interaction: ScopeInteraction) => AccessDecision;

export interface AccessScope {
  readonly access: AccessContext;
  readonly authorize: Authorize;
  readonly audit: PendingAudits;
  readonly sourceAddress?: string;
  /** Where unexpected failures (bugs, a full disk) are logged; the client only sees a 500. */
  readonly logError: (err: unknown) => void;
}

/** The body of every 500: no internals (SQL, paths, stack) reach the client. */
const INTERNAL_ERROR: OperationOutcome = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'exception', details: { text: 'Internal server error' } }],
};

/**
 * Audit entries of one request. They are queued, not awaited, where they happen: inside a
 * transaction bundle the write queue is held by that transaction, so awaiting would deadlock.
 * The HTTP handler awaits `flush()` after the router returns and before it answers, so no
 * response leaves before its audit trail is durable.
 */
export class PendingAudits {
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly sink: AuditSink) {}

  record(entry: AuditEntry): void {
    const write = this.sink.record(entry);
    // Observed here so an early failure is not an unhandled rejection; flush() rethrows it.
    write.catch(() => undefined);
    this.pending.push(write);
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending.splice(0));
  }
}

/**
 * The repository every FHIR request runs against: it wraps the store and checks each operation
 * against the caller's SMART scopes before it happens, confines `patient/` grants to the
 * patient's compartment, and writes an audit entry for every access to patient data. Working at
 * the repository level, not the route, means batch entries, `_include`/`_revinclude`, history
 * and GraphQL all pass through the same checks.
 *
 * A resource outside a patient's compartment answers 404, not 403: patient A must not learn
 * that patient B's resource exists.
 */
export class AccessScopedRepository extends FhirRepository {
  constructor(
    private readonly inner: SqliteRepository,
    private readonly scope: AccessScope
  ) {
    super();
  }

  setMode(mode: RepositoryMode): void {
    this.inner.setMode(mode);
  }

  generateId(): string {
    return this.inner.generateId();
  }

  async createResource<T extends Resource>(resource: T, options?: CreateResourceOptions): Promise<WithId<T>> {
    return this.audited('C', 'create', resource.resourceType, async () => {
      const limits = this.require(resource.resourceType, 'c');
      this.assertWritableIn(limits, resource);
      await this.assertReferencesVisible(limits, resource);
      return this.inner.createResource(resource, options);
    });
  }

  async updateResource<T extends Resource>(resource: T, options?: UpdateResourceOptions): Promise<WithId<T>> {
    return this.audited('U', 'update', resource.resourceType, async () => {
      const limits = this.require(resource.resourceType, 'u');
      if (limits && resource.id) {
        // A confined grant updates only what it can see, and never creates by PUT: otherwise
        // "201 for an unused id, 404 for another patient's" would reveal which ids exist.
        this.assertVisible(limits, await this.readHidingAbsence(resource.resourceType, resource.id));
      }
      this.assertWritableIn(limits, resource);
      await this.assertReferencesVisible(limits, resource);
      return this.inner.updateResource(resource, options);
    });
  }

  async deleteResource(resourceType: string, id: string, options?: DeleteResourceOptions): Promise<void> {
    await this.audited('D', 'delete', resourceType, async () => {
      const limits = this.require(resourceType, 'd');
      if (limits) {
        this.assertVisible(limits, await this.readHidingAbsence(resourceType, id));
      }
      await this.inner.deleteResource(resourceType, id, options);
      return { resourceType, id } as WithId<Resource>;
    });
  }

  async patchResource<T extends Resource>(
    resourceType: T['resourceType'],
    id: string,
    patch: Operation[] | Parameters,
    options?: UpdateResourceOptions
  ): Promise<WithId<T>> {
    return this.audited('U', 'patch', resourceType, async () => {
      const limits = this.require(resourceType, 'u');
      if (limits) {
        this.assertVisible(limits, await this.readHidingAbsence(resourceType, id));
      }
      const patched = await this.inner.patchResource<T>(resourceType, id, patch, options);
      return patched;
    });
  }

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    return this.audited('R', 'read', resourceType, () => this.readChecked<T>(resourceType, id), undefined, `${resourceType}/${id}`);
  }

  async readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    const [resourceType, id] = (reference.reference ?? '').split('/');
    return this.readResource<T>(resourceType, id);
  }

  async readReferences<T extends Resource>(references: readonly Reference<T>[]): Promise<(T | Error)[]> {
    return Promise.all(references.map((r) => this.readReference(r).catch((err: unknown) => toError(err))));
  }

  async readHistory<T extends Resource>(resourceType: string, id: string, options?: ReadHistoryOptions): Promise<Bundle<WithId<T>>> {
    return this.audited(
      'R',
      'history-instance',
      resourceType,
      async () => {
        const limits = this.require(resourceType, 'r');
        const history = await this.inner.readHistory<T>(resourceType, id, options);
        // Every version must be within the grant (a deleted resource keeps its history).
        for (const entry of history.entry ?? []) {
          if (entry.resource) {
            this.assertVisible(limits, entry.resource);
          }
        }
        return history;
      },
      undefined,
      `${resourceType}/${id}`
    );
  }

  async readVersion<T extends Resource>(resourceType: string, id: string, vid: string): Promise<WithId<T>> {
    return this.audited('R', 'vread', resourceType, async () => {
      const limits = this.require(resourceType, 'r');
      const resource = await this.inner.readVersion<T>(resourceType, id, vid);
      this.assertVisible(limits, resource);
      return resource;
    });
  }

  async search<T extends Resource>(searchRequest: SearchRequest<T>, options?: SearchOptions): Promise<Bundle<WithId<T>>> {
    const types = searchRequest.types?.length ? searchRequest.types : [searchRequest.resourceType];
    return this.audited(
      'E',
      'search',
      types.join(','),
      async () => {
        let filters = searchRequest.filters ?? [];
        if (types.length === 1) {
          filters = await this.confineChains(types[0], filters);
        }
        const limitsByType = new Map<string, Limits>();
        for (const type of types) {
          const limits = this.require(type, 's');
          if (limits) {
            limitsByType.set(type, limits);
          }
          if (limits?.compartment) {
            filters = [...filters, compartmentFilter(limits.compartment)];
          }
          // One granular condition narrows the query itself; several (an OR) are applied per resource below.
          if (limits?.conditions.length === 1 && types.length === 1) {
            filters = [...filters, ...(limits.conditions[0].filters ?? [])];
          }
        }
        const { include, revInclude, ...base } = searchRequest;
        const bundle = await this.inner.search({ ...base, filters } as SearchRequest<T>, options);
        if (limitsByType.size > 0 && bundle.entry) {
          bundle.entry = bundle.entry.filter((e) => {
            const limits = e.resource && limitsByType.get(e.resource.resourceType);
            return !limits || withinLimits(limits, e.resource as Resource);
          });
        }
        if ((include || revInclude) && bundle.entry?.length) {
          // Included resources are read back through this repository, so they are checked too.
          const entries = bundle.entry as BundleEntry[];
          const resources = entries.map((e) => e.resource as WithId<T>);
          await getExtraEntries(this, searchRequest, resources, entries, {
            fullUrl: (type, id) => `${fullUrlBase(bundle)}${type}/${id}`,
          });
        }
        return bundle;
      },
      searchRequest
    );
  }

  async searchByReference<T extends Resource>(
    searchRequest: SearchRequest<T>,
    referenceField: string,
    references: string[]
  ): Promise<Record<string, WithId<T>[]>> {
    return searchByReferenceVia(this, searchRequest, referenceField, references);
  }

  async withTransaction<TResult>(callback: (txRepo: this) => Promise<TResult>, options: TransactionOptions): Promise<TResult> {
    return this.inner.withTransaction((tx) => callback(new AccessScopedRepository(tx, this.scope) as this), options);
  }

  /**
   * A Binary's content file, after the same check and audit as a FHIR read, made on the Binary's
   * metadata alone (reading the resource would turn its bytes into base64 only to check access).
   */
  async readBinaryContent(id: string): Promise<BinaryContent> {
    let content: BinaryContent | undefined;
    await this.audited(
      'R',
      'read',
      'Binary',
      async () => {
        const limits = this.require('Binary', 'r');
        try {
          content = this.inner.readBinaryContent(id);
        } catch (err) {
          // As readHidingAbsence: a confined grant sees a deleted Binary as a missing one.
          if (limits && err instanceof OperationOutcomeError && getStatus(err.outcome) === 410) {
            throw new OperationOutcomeError(notFound);
          }
          throw err;
        }
        this.assertVisible(limits, content.binary);
        return content.binary;
      },
      undefined,
      `Binary/${id}`
    );
    return content as BinaryContent;
  }

  private async readChecked<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    const limits = this.require(resourceType, 'r');
    const resource = limits ? await this.readHidingAbsence<T>(resourceType, id) : await this.inner.readResource<T>(resourceType, id);
    this.assertVisible(limits, resource);
    return resource;
  }

  /**
   * For confined grants: a deleted resource answers 404 like a missing one (410 would tell that
   * another patient's resource once existed).
   */
  private async readHidingAbsence<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    try {
      return await this.inner.readResource<T>(resourceType, id);
    } catch (err) {
      if (err instanceof OperationOutcomeError && getStatus(err.outcome) === 410) {
        throw new OperationOutcomeError(notFound);
      }
      throw err;
    }
  }

  /**
   * For confined grants: a reference to patient data the caller cannot see fails exactly like a
   * reference to nothing, so a write cannot be used to probe which ids exist. References to
   * resources that do not exist at all are left to the store's own check (which, inside a
   * transaction, waits for entries created later in the bundle).
   */
  private async assertReferencesVisible(limits: Limits | undefined, resource: Resource): Promise<void> {
    if (!limits) {
      return;
    }
    const refs = findLocalReferences(resource, this.inner.fhirBase);
    const hidden = new Set<string>();
    for (const { reference } of refs) {
      const [type, id] = reference.split('/');
      if (!id || !isResourceType(type) || !isPatientDataType(type)) {
        continue;
      }
      const target = await this.inner.readResource(type, id).catch(() => undefined);
      if (target && !withinLimits(limits, target)) {
        hidden.add(reference);
      }
    }
    if (hidden.size) {
      assertReferencesResolve(refs, (type, id) => !hidden.has(`${type}/${id}`));
    }
  }

  /**
   * A chained parameter reads another resource type. When the caller's grant on that type is
   * confined (or missing: 403), the chain is resolved through this repository, so only targets
   * the caller may see can select anything; unconfined chains stay in SQL.
   */
  private async confineChains(resourceType: string, filters: Filter[]): Promise<Filter[]> {
    const result: Filter[] = [];
    for (const filter of filters) {
      const dot = filter.code.indexOf('.');
      if (dot < 0) {
        result.push(filter);
        continue;
      }
      const [code, explicitType] = filter.code.slice(0, dot).split(':');
      const targets = (indexedParams(resourceType).find((p) => p.code === code)?.param.target ?? []) as string[];
      const targetType = explicitType ?? (targets.length === 1 ? targets[0] : undefined);
      if (!targetType) {
        result.push(filter); // the store refuses it with a clear message
        continue;
      }
      const targetLimits = this.require(targetType, 's');
      if (!targetLimits) {
        result.push(filter);
        continue;
      }
      const matches = await this.searchResources({
        resourceType: targetType as ResourceType,
        filters: [{ ...filter, code: filter.code.slice(dot + 1) }],
        count: MAX_CHAIN_TARGETS,
      });
      if (matches.length >= MAX_CHAIN_TARGETS) {
        throw new OperationOutcomeError(badRequest(`Chained parameter ${filter.code} matches too many resources; narrow it`));
      }
      const value = matches.length ? matches.map((m) => `${targetType}/${m.id}`).join(',') : `${targetType}/-`;
      result.push({ code, operator: Operator.EQUALS, value });
    }
    return result;
  }

  /** Throws 403 unless a granted scope covers the interaction; returns the limits of the grant. */
  private require(resourceType: string, interaction: ScopeInteraction): Limits | undefined {
    const decision = this.scope.authorize(this.scope.access, resourceType, interaction);
    if (!decision.allowed) {
      throw new OperationOutcomeError(forbidden, undefined);
    }
    if (!decision.compartment && !decision.filters?.length) {
      return undefined;
    }
    return {
      compartment: decision.compartment,
      conditions: decision.filters?.map((query) => parseSearchRequest(`${resourceType}?${query}`)) ?? [],
    };
  }

  /** A resource outside the grant answers 404, exactly like one that does not exist. */
  private assertVisible(limits: Limits | undefined, resource: Resource): void {
    if (limits && !withinLimits(limits, resource)) {
      throw new OperationOutcomeError(notFound);
    }
  }

  private assertWritableIn(limits: Limits | undefined, resource: Resource): void {
    if (!limits) {
      return;
    }
    const withCompartment = {
      ...resource,
      meta: { ...resource.meta, compartment: patientCompartments({ ...resource, id: resource.id ?? '' } as WithId<Resource>) },
    };
    if (!withinLimits(limits, withCompartment)) {
      throw new OperationOutcomeError(forbidden);
    }
  }

  private async audited<T extends Resource | Bundle>(
    action: AuditEntry['action'],
    interaction: string,
    resourceType: string,
    fn: () => Promise<T>,
    searchRequest?: SearchRequest,
    target?: string
  ): Promise<T> {
    const { access } = this.scope;
    const base = {
      action,
      interaction,
      agent: access.subject,
      clientId: access.clientId,
      tokenId: access.tokenId,
      sourceAddress: this.scope.sourceAddress,
      query: searchRequest ? describeSearch(searchRequest) : undefined,
    };
    let result: T;
    try {
      result = await fn();
    } catch (caught) {
      // FhirRouter would report any thrown Error as a 400 carrying its message; only our own
      // OperationOutcomeErrors are the client's business.
      let err = caught;
      if (!(caught instanceof OperationOutcomeError)) {
        this.scope.logError(caught);
        err = new OperationOutcomeError(INTERNAL_ERROR);
      }
      const outcome = normalizeOperationOutcome(err);
      const status = getStatus(outcome);
      this.scope.audit.record({
        ...base,
        outcome: status >= 500 ? '8' : '4',
        outcomeDesc: outcome.issue?.[0]?.details?.text ?? String(status),
        // What was asked for, so "who tried to see patient X" finds refusals too.
        entities: target ? [target] : [],
        patients: target?.startsWith('Patient/') ? [target] : [],
      });
      throw err;
    }
    const touched = result.resourceType === 'Bundle' && resourceType !== 'Bundle' ? bundleResources(result) : [result as Resource];
    this.scope.audit.record({
      ...base,
      outcome: '0',
      entities: touched.filter((r) => r.id).map((r) => `${r.resourceType}/${r.id}`),
      patients: [...new Set(touched.flatMap(patientsOf))],
    });
    return result;
  }
}

/** What a grant is confined to: a patient's compartment, and/or SMART v2 granular conditions (any one suffices). */
interface Limits {
  readonly compartment?: string;
  readonly conditions: readonly SearchRequest[];
}

function withinLimits(limits: Limits, resource: Resource): boolean {
  if (limits.compartment && !inCompartment(limits.compartment, resource)) {
    return false;
  }
  return limits.conditions.length === 0 || limits.conditions.some((condition) => matchesSearchRequest(resource, condition));
}

/** Most targets a confined chained parameter may resolve to before it must be narrowed. */
const MAX_CHAIN_TARGETS = 1000;

function compartmentFilter(compartment: string): Filter {
  return { code: '_compartment', operator: Operator.EQUALS, value: compartment };
}

function inCompartment(compartment: string, resource: Resource): boolean {
  return (
    `${resource.resourceType}/${resource.id}` === compartment ||
    (resource.meta?.compartment ?? []).some((c) => c.reference === compartment)
  );
}

function patientsOf(resource: Resource): string[] {
  return (resource.meta?.compartment ?? []).map((c) => c.reference as string).filter((r) => r?.startsWith('Patient/'));
}

function bundleResources(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Resource => Boolean(r));
}

function describeSearch(request: SearchRequest): string {
  const filters = (request.filters ?? []).map((f) => `${f.code}:${f.operator}=${f.value}`);
  return `${request.resourceType}?${filters.join('&')}`;
}

function fullUrlBase(bundle: Bundle): string {
  const self = bundle.link?.find((l) => l.relation === 'self')?.url ?? '';
  const at = self.indexOf('/fhir/R4/');
  return at >= 0 ? self.slice(0, at + '/fhir/R4/'.length) : '';
}

function isNotFound(err: unknown): boolean {
  return err instanceof OperationOutcomeError && getStatus(err.outcome) === 404;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new OperationOutcomeError(normalizeOperationOutcome(err));
}
