import type { Patient, QuestionnaireResponse, QuestionnaireResponseItemAnswer } from '@medplum/fhirtypes';
import { fillQuestionnaire } from '../fhir-profiles/questionnaire-filler';
import { ourValueSets, readQuestionnaire } from '../fhir-profiles/profile-files';
import { skinPhoto } from '../images/photo-fixtures';

export const valueSets = ourValueSets();

/** A complete derm-intake response whose photo answers name the multipart parts `cid:<part>`. */
export function intakeResponse(parts = ['overview', 'close1', 'close2'], answers: Record<string, QuestionnaireResponseItemAnswer[]> = {}): QuestionnaireResponse {
  const [overview, ...closeUps] = parts;
  const response = fillQuestionnaire(readQuestionnaire('derm-intake'), {
    valueSets,
    answers: {
      'consent-store-and-forward': [{ valueBoolean: true }],
      'photo-body-site': [{ valueCoding: { system: 'http://snomed.info/sct', code: '66643007', display: 'Skin of back' } }],
      'photo-scale-reference': [{ valueBoolean: true }],
      'photo-overview': [{ valueAttachment: { url: `cid:${overview}` } }],
      'photo-close-up': closeUps.map((p) => ({ valueAttachment: { url: `cid:${p}` } })),
      'photo-dermoscopic': [],
      ...answers,
    },
  });
  delete response.subject;
  return response;
}

export function econsultResponse(parts = ['overview', 'close1', 'close2']): QuestionnaireResponse {
  const [overview, ...closeUps] = parts;
  const response = fillQuestionnaire(readQuestionnaire('derm-econsult'), {
    valueSets,
    answers: {
      'consent-interprofessional': [{ valueBoolean: true }],
      'pcp-suspects-cancer': [{ valueBoolean: true }],
      'photo-body-site': [{ valueCoding: { system: 'http://snomed.info/sct', code: '66643007', display: 'Skin of back' } }],
      'photo-scale-reference': [{ valueBoolean: true }],
      'photo-overview': [{ valueAttachment: { url: `cid:${overview}` } }],
      'photo-close-up': closeUps.map((p) => ({ valueAttachment: { url: `cid:${p}` } })),
      'photo-dermoscopic': [],
    },
  });
  delete response.subject;
  return response;
}

export function mrnPatient(mrn: string): Patient {
  return { resourceType: 'Patient', identifier: [{ system: 'https://dermbridge.example.org/fhir/sid/mrn', value: mrn }], name: [{ family: 'Test', given: ['Pat'] }], birthDate: '1980-05-17' };
}

let photoCache: Buffer[] | undefined;
/** Three distinct sharp 1024×768 JPEGs (generated once per run). */
export async function threePhotos(): Promise<Buffer[]> {
  photoCache ??= await Promise.all([1, 2, 3].map((seed) => skinPhoto({ seed })));
  return photoCache;
}
