/**
 * A realistic mixed NDJSON for the bulk-import benchmark (#7): Practitioners first, then per
 * Patient its Conditions, Observations, MedicationStatement and ServiceRequest, all referencing
 * that Patient (and the requester Practitioner), as an EHR's export concatenated into one file.
 * Drawn from a seeded PRNG, so every run imports the same bytes.
 */
import { seededRandom } from '../../test/support/seeded-random';
import type { Condition, MedicationStatement, Observation, Patient, Practitioner, Resource, ServiceRequest } from '@medplum/fhirtypes';

export const BENCH_MRN = 'urn:dermbridge:bench:bulk-mrn';


const CONDITIONS = [
  ['24079001', 'Atopic dermatitis'],
  ['9014002', 'Psoriasis'],
  ['372244006', 'Malignant melanoma'],
  ['254701007', 'Basal cell carcinoma'],
  ['11381005', 'Acne vulgaris'],
  ['128045006', 'Cellulitis'],
] as const;
const OBSERVATIONS = [
  ['8302-2', 'Body height', 'cm', 150, 200],
  ['29463-7', 'Body weight', 'kg', 45, 120],
  ['8310-5', 'Body temperature', 'Cel', 36, 39],
  ['8867-4', 'Heart rate', '/min', 50, 110],
  ['39156-5', 'Body mass index', 'kg/m2', 18, 40],
] as const;
const MEDICATIONS = [
  ['197591', 'Hydrocortisone 1% topical cream'],
  ['310965', 'Ibuprofen 200 MG Oral Tablet'],
  ['1049630', 'Doxycycline 100 MG Oral Capsule'],
  ['866516', 'Methotrexate 2.5 MG Oral Tablet'],
] as const;
const FAMILIES = ['Garcia', 'Smith', 'Nguyen', 'Müller', 'Rossi', 'Kowalski', 'Okafor', 'Tanaka', 'Silva', 'Dubois'];
const GIVEN = ['Ana', 'Ben', 'Chloé', 'David', 'Emma', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas', 'Kai', 'Lea'];
const CLINICAL = ['active', 'recurrence', 'inactive', 'remission', 'resolved'] as const;
const PRIORITY = ['routine', 'urgent', 'asap', 'stat'] as const;

/** Resources per Patient group: 1 Patient + 2 Conditions + 5 Observations + 1 MedicationStatement + 1 ServiceRequest. */
export const RESOURCES_PER_PATIENT = 10;
const PRACTITIONERS = 50;

/**
 * `total` resources (rounded to whole Patient groups, after the Practitioners), one JSON text per
 * line. `prefix` keeps ids distinct between data sets written to the same store.
 */
export function* mixedNdjsonLines(total: number, seed = 7, prefix = 'bk'): Generator<string> {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const day = (fromYear: number, years: number): string => new Date(Date.UTC(fromYear, 0, 1) + Math.floor(random() * years * 365) * 86_400_000).toISOString().slice(0, 10);
  const practitioners = Math.min(PRACTITIONERS, total);
  for (let k = 0; k < practitioners; k++) {
    const practitioner: Practitioner = {
      resourceType: 'Practitioner',
      id: `${prefix}-pr-${k}`,
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: String(1_000_000_000 + k) }],
      name: [{ family: pick(FAMILIES), given: [pick(GIVEN)], prefix: ['Dr.'] }],
      active: true,
    };
    yield JSON.stringify(practitioner);
  }
  const patients = Math.floor((total - practitioners) / RESOURCES_PER_PATIENT);
  for (let p = 0; p < patients; p++) {
    const patientId = `${prefix}-pt-${p}`;
    const subject = { reference: `Patient/${patientId}` };
    const patient: Patient = {
      resourceType: 'Patient',
      id: patientId,
      identifier: [{ system: BENCH_MRN, value: `${prefix}-mrn-${p}` }],
      active: true,
      name: [{ use: 'official', family: pick(FAMILIES), given: [pick(GIVEN), pick(GIVEN)] }],
      telecom: [{ system: 'phone', value: `+41 79 ${String(1_000_000 + p).slice(-7)}`, use: 'mobile' }],
      gender: random() < 0.5 ? 'female' : 'male',
      birthDate: day(1935, 85),
      address: [{ line: [`${1 + Math.floor(random() * 200)} Main Street`], city: pick(['Basel', 'Bern', 'Zürich', 'Genève']), postalCode: String(1000 + Math.floor(random() * 8999)), country: 'CH' }],
    };
    const out: Resource[] = [patient];
    for (let c = 0; c < 2; c++) {
      const [code, display] = pick(CONDITIONS);
      const condition: Condition = {
        resourceType: 'Condition',
        id: `${prefix}-cd-${p}-${c}`,
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: pick(CLINICAL) }] },
        verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
        code: { coding: [{ system: 'http://snomed.info/sct', code, display }], text: display },
        subject,
        onsetDateTime: day(2010, 15),
        recordedDate: day(2020, 5),
      };
      out.push(condition);
    }
    for (let o = 0; o < 5; o++) {
      const [code, display, unit, lo, hi] = OBSERVATIONS[o];
      const observation: Observation = {
        resourceType: 'Observation',
        id: `${prefix}-ob-${p}-${o}`,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: 'http://loinc.org', code, display }], text: display },
        subject,
        effectiveDateTime: `${day(2018, 7)}T${String(8 + Math.floor(random() * 10)).padStart(2, '0')}:15:00Z`,
        valueQuantity: { value: Math.round((lo + random() * (hi - lo)) * 10) / 10, unit, system: 'http://unitsofmeasure.org', code: unit },
      };
      out.push(observation);
    }
    const [rxnorm, medication] = pick(MEDICATIONS);
    const statement: MedicationStatement = {
      resourceType: 'MedicationStatement',
      id: `${prefix}-ms-${p}`,
      status: 'active',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: rxnorm, display: medication }] },
      subject,
      effectivePeriod: { start: day(2019, 6) },
      dosage: [{ text: 'as directed' }],
    };
    out.push(statement);
    const request: ServiceRequest = {
      resourceType: 'ServiceRequest',
      id: `${prefix}-sr-${p}`,
      status: 'active',
      intent: 'order',
      priority: pick(PRIORITY),
      code: { coding: [{ system: 'http://snomed.info/sct', code: '11429006', display: 'Consultation' }], text: 'Dermatology e-consult' },
      subject,
      requester: { reference: `Practitioner/${prefix}-pr-${Math.floor(random() * practitioners)}` },
      authoredOn: `${day(2024, 2)}T10:00:00Z`,
      reasonCode: [{ text: 'skin lesion' }],
    };
    out.push(request);
    for (const resource of out) {
      yield JSON.stringify(resource);
    }
  }
}
