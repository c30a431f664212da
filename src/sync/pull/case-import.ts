/**
 * Brings one e-consult ServiceRequest into the store with the context a reviewer needs: its
 * Patient (matched on the EHR's MRN), and the patient's Conditions, medications and allergies.
 * Each resource is upserted by an identifier; a resource the store refuses (validation) is
 * reported and skipped, and the rest of the case still syncs.
 */
import type { MedplumClient } from '@medplum/core';
import type { Bundle, Patient, Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { EhrClient } from '../ehr-client';
import { mapResource, parseReference } from '../reference-mapping';
import { sourceIdSystem } from '../sync-identifiers';
import { recordFailure, type SyncSummary } from '../sync-summary';
import { DRY_RUN_ID, failureReason, upsertByIdentifier } from '../store-upsert';
import { searchPages } from './search-pages';

export const DEFAULT_CONTEXT_TYPES = ['Condition', 'MedicationStatement', 'MedicationRequest', 'AllergyIntolerance'] as const;

export interface CaseImportOptions {
  readonly ehr: EhrClient;
  readonly store: MedplumClient;
  readonly ehrName: string;
  /** The EHR's MRN identifier system: the key that maps an EHR patient to a dermbridge Patient. */
  readonly mrnSystem: string;
  readonly contextTypes: readonly string[];
  readonly dryRun: boolean;
  readonly summary: SyncSummary;
}

/** Per-run memory of what is already synced: EHR `Type/id` → store `Type/id`, patients done. */
export class CaseImporter {
  private readonly mapped = new Map<string, string>();
  private readonly patientsDone = new Map<string, string | undefined>();

  constructor(private readonly o: CaseImportOptions) {}

  async importServiceRequest(serviceRequest: ServiceRequest): Promise<void> {
    const item = `ServiceRequest/${serviceRequest.id}`;
    const patientRef = serviceRequest.subject?.reference && parseReference(serviceRequest.subject.reference, this.o.ehr.baseUrl);
    if (!patientRef || patientRef[0] !== 'Patient') {
      recordFailure(this.o.summary, item, 'subject is not a Patient reference');
      return;
    }
    const storePatient = await this.importPatient(patientRef[1]);
    if (!storePatient) {
      recordFailure(this.o.summary, item, `its Patient/${patientRef[1]} could not be synced`);
      return;
    }
    await this.upsertSourced(serviceRequest);
  }

  /** The store's `Patient/<id>` for the EHR patient, importing it and its context once per run. */
  private async importPatient(ehrPatientId: string): Promise<string | undefined> {
    if (this.patientsDone.has(ehrPatientId)) {
      return this.patientsDone.get(ehrPatientId);
    }
    const item = `Patient/${ehrPatientId}`;
    let storeRef: string | undefined;
    try {
      const { body: patient } = await this.o.ehr.get<Patient>(`Patient/${encodeURIComponent(ehrPatientId)}`);
      const mrn = patient.identifier?.find((i) => i.system === this.o.mrnSystem)?.value;
      if (!mrn) {
        recordFailure(this.o.summary, item, `no identifier in the MRN system ${this.o.mrnSystem}`);
      } else {
        const source = { system: sourceIdSystem(this.o.ehrName, 'Patient'), value: ehrPatientId };
        const mapped = this.map(patient);
        // Keep the EHR's identifiers, and add ours so results can be written back to this patient.
        mapped.identifier = [...(mapped.identifier ?? []).filter((i) => i.system !== source.system), source];
        const result = await upsertByIdentifier(this.o.store, mapped, { system: this.o.mrnSystem, value: mrn }, this.o.dryRun);
        this.count(result.outcome);
        storeRef = `Patient/${result.resource.id}`;
        this.mapped.set(item, storeRef);
      }
    } catch (err) {
      recordFailure(this.o.summary, item, failureReason(err));
    }
    this.patientsDone.set(ehrPatientId, storeRef);
    if (storeRef) {
      await this.importContext(ehrPatientId);
    }
    return storeRef;
  }

  private async importContext(ehrPatientId: string): Promise<void> {
    for (const type of this.o.contextTypes) {
      const url = `${type}?patient=${encodeURIComponent(ehrPatientId)}&_count=100`;
      try {
        for await (const page of searchPages(this.o.ehr, url)) {
          for (const resource of matches(page)) {
            await this.upsertSourced(resource);
          }
        }
      } catch (err) {
        recordFailure(this.o.summary, `${type}?patient=${ehrPatientId}`, failureReason(err));
      }
    }
  }

  /** Upsert keyed by the EHR's logical id (as a source identifier). */
  private async upsertSourced(resource: Resource): Promise<void> {
    const item = `${resource.resourceType}/${resource.id}`;
    try {
      const source = { system: sourceIdSystem(this.o.ehrName, resource.resourceType), value: resource.id as string };
      const mapped = this.map(resource) as Resource & { identifier?: typeof source[] };
      mapped.identifier = [...(mapped.identifier ?? []).filter((i) => i.system !== source.system), source];
      const result = await upsertByIdentifier(this.o.store, mapped, source, this.o.dryRun);
      this.count(result.outcome);
      this.mapped.set(item, `${resource.resourceType}/${result.resource.id}`);
    } catch (err) {
      recordFailure(this.o.summary, item, failureReason(err));
    }
  }

  private map<T extends Resource>(resource: T): T {
    return mapResource(
      resource,
      (type, id) => {
        const ref = this.mapped.get(`${type}/${id}`);
        // In a dry run a new patient has no id; keep the reference visibly unresolved rather than invent one.
        return ref?.endsWith(DRY_RUN_ID) ? undefined : ref;
      },
      (type) => sourceIdSystem(this.o.ehrName, type),
      this.o.ehr.baseUrl
    );
  }

  private count(outcome: 'created' | 'updated' | 'unchanged'): void {
    this.o.summary[outcome]++;
  }
}

export function matches<T extends Resource>(bundle: Bundle<T>): T[] {
  return (bundle.entry ?? []).filter((e) => e.resource && e.search?.mode !== 'include' && e.search?.mode !== 'outcome').map((e) => e.resource as T);
}
