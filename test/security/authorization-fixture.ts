/**
 * The world the authorization matrix runs in: two practices, patients A and B (practice 1) and C
 * (practice 2, whose PCP is the "PCP of another practice"), their Observations and photos, and one
 * token per principal.
 *
 * "PCP of another practice": dermbridge has no practice model of its own; what a user may see is
 * what its SMART scopes say. An EHR that launches a PCP of practice 2 grants SMART v2 granular
 * scopes confined to that practice: Patients whose managingOrganization is practice 2, and the
 * Observations and e-consults that PCP performed or requested. Patient A (practice 1) is outside
 * all of them. A PCP granted `user/*.cruds` would see everything, like the clinician: that is the
 * authorization server's decision, and SECURITY.md says so.
 */
import { randomUUID } from 'node:crypto';
import type { Binary, Observation, Organization, Patient, Practitioner } from '@medplum/fhirtypes';
import request from 'supertest';
import { fhirHttp, MRN, unique, type FhirHttp, type Stored } from '../support/fhir-http';
import { forgedToken } from '../support/forged-token';
import type { TestServer } from '../support/test-server';

export const PRINCIPALS = ['anonymous', 'expired', 'forged', 'patientA', 'patientB', 'clinician', 'pcpOther', 'systemNarrow', 'systemWide'] as const;
export type Principal = (typeof PRINCIPALS)[number];

export const CODE_SYSTEM = 'urn:dermbridge:test:code';

export interface World {
  readonly server: TestServer;
  readonly admin: FhirHttp;
  readonly practice1: Stored<Organization>;
  readonly practice2: Stored<Organization>;
  readonly pcpOther: Stored<Practitioner>;
  readonly patientA: Stored<Patient>;
  readonly patientB: Stored<Patient>;
  readonly patientC: Stored<Patient>;
  readonly observationA: Stored<Observation>;
  readonly observationB: Stored<Observation>;
  readonly observationC: Stored<Observation>;
  readonly binaryA: Stored<Binary>;
  readonly photoA: Buffer;
  /** Strings that only patient A's data contains: none may reach a principal denied A. */
  readonly markersOfA: readonly string[];
  readonly tokens: Readonly<Record<Principal, string | undefined>>;
  client(principal: Principal): FhirHttp;
  /** A fresh Observation of A (for update, patch and delete, which consume their target). */
  observationOfA(): Promise<Stored<Observation>>;
}

export function observationOf(patient: Patient, text: string, extra: Partial<Observation> = {}): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: MRN, value: unique('obs') }],
    code: { coding: [{ system: CODE_SYSTEM, code: unique('code') }], text },
    subject: { reference: `Patient/${patient.id}` },
    ...extra,
  };
}

export async function buildWorld(server: TestServer): Promise<World> {
  const admin = fhirHttp(server.baseUrl, await server.adminToken());
  const practice1 = await admin.create<Organization>({ resourceType: 'Organization', name: 'Practice 1' });
  const practice2 = await admin.create<Organization>({ resourceType: 'Organization', name: 'Practice 2' });
  const pcpOther = await admin.create<Practitioner>({ resourceType: 'Practitioner', name: [{ family: 'Other-PCP' }] });
  const patient = (family: string, practice: Organization) =>
    admin.create<Patient>({
      resourceType: 'Patient',
      identifier: [{ system: MRN, value: unique(family) }],
      name: [{ family }],
      managingOrganization: { reference: `Organization/${practice.id}` },
    });
  const familyA = `Alpha${randomUUID().slice(0, 8)}`;
  const patientA = await patient(familyA, practice1);
  const patientB = await patient(`Beta${randomUUID().slice(0, 8)}`, practice1);
  const patientC = await patient(`Gamma${randomUUID().slice(0, 8)}`, practice2);
  const observationA = await admin.create(observationOf(patientA, `lesion-of-${familyA}`));
  const observationB = await admin.create(observationOf(patientB, 'lesion of B'));
  const observationC = await admin.create(observationOf(patientC, 'lesion of C', { performer: [{ reference: `Practitioner/${pcpOther.id}` }] }));
  const photoA = Buffer.from(`\xff\xd8\xff\xe0photo-of-${familyA}-${randomUUID()}`, 'latin1');
  const upload = await request(server.baseUrl.replace(/\/$/, ''))
    .post('/fhir/R4/Binary')
    .set('Authorization', `Bearer ${await server.adminToken()}`)
    .set('Content-Type', 'image/jpeg')
    .set('X-Security-Context', `Patient/${patientA.id}`)
    .send(photoA);
  if (upload.status !== 201) {
    throw new Error(`photo upload failed: ${upload.status} ${upload.text}`);
  }
  const binaryA = upload.body as Stored<Binary>;

  const tokens: Record<Principal, string | undefined> = {
    anonymous: undefined,
    expired: await server.token({ scopes: ['system/*.cruds'], lifetimeSeconds: -10 }),
    forged: await forgedToken(server),
    patientA: await server.token({ scopes: ['patient/*.cruds'], patientId: patientA.id, fhirUser: `Patient/${patientA.id}` }),
    patientB: await server.token({ scopes: ['patient/*.cruds'], patientId: patientB.id, fhirUser: `Patient/${patientB.id}` }),
    clinician: await server.token({ scopes: ['user/*.cruds'], fhirUser: 'Practitioner/dermatologist-1' }),
    pcpOther: await server.token({
      scopes: [
        `user/Patient.rs?organization=Organization/${practice2.id}`,
        `user/Observation.rs?performer=Practitioner/${pcpOther.id}`,
        `user/ServiceRequest.crus?requester=Practitioner/${pcpOther.id}`,
      ],
      fhirUser: `Practitioner/${pcpOther.id}`,
    }),
    systemNarrow: await server.token({ scopes: ['system/Patient.rs'], clientId: 'interface-engine' }),
    systemWide: await server.token({ scopes: ['system/*.cruds'], clientId: 'bulk-loader' }),
  };
  return {
    server,
    admin,
    practice1,
    practice2,
    pcpOther,
    patientA,
    patientB,
    patientC,
    observationA,
    observationB,
    observationC,
    binaryA,
    photoA,
    markersOfA: [patientA.id, familyA, observationA.id, binaryA.id],
    tokens,
    client: (principal) => fhirHttp(server.baseUrl, tokens[principal]),
    observationOfA: () => admin.create(observationOf(patientA, `lesion-of-${familyA}`)),
  };
}
