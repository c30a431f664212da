/**
 * Canonical URLs of dermbridge's conformance resources (fhir-profiles/). One place, so code
 * that recognises "our" resources and the JSON artefacts cannot drift apart: the profile tests
 * check that every URL here resolves to a file.
 */
export const CANONICAL_BASE = 'https://dermbridge.example.org/fhir';

export const STRUCTURE_DEFINITION_BASE = `${CANONICAL_BASE}/StructureDefinition`;
export const VALUE_SET_BASE = `${CANONICAL_BASE}/ValueSet`;
export const CODE_SYSTEM_BASE = `${CANONICAL_BASE}/CodeSystem`;
export const QUESTIONNAIRE_BASE = `${CANONICAL_BASE}/Questionnaire`;

export const PROFILE_URLS = {
  econsultServiceRequest: `${STRUCTURE_DEFINITION_BASE}/derm-econsult-servicerequest`,
  econsultTask: `${STRUCTURE_DEFINITION_BASE}/derm-econsult-task`,
  photoMedia: `${STRUCTURE_DEFINITION_BASE}/derm-photo-media`,
  scaleReferencePresent: `${STRUCTURE_DEFINITION_BASE}/scale-reference-present`,
  triageRiskAssessment: `${STRUCTURE_DEFINITION_BASE}/derm-triage-riskassessment`,
  consultDiagnosticReport: `${STRUCTURE_DEFINITION_BASE}/derm-consult-diagnosticreport`,
  medicationRequest: `${STRUCTURE_DEFINITION_BASE}/derm-medicationrequest`,
} as const;

export const QUESTIONNAIRE_URLS = {
  intake: `${QUESTIONNAIRE_BASE}/derm-intake`,
  econsult: `${QUESTIONNAIRE_BASE}/derm-econsult`,
  review: `${QUESTIONNAIRE_BASE}/derm-review`,
} as const;

export const CODE_SYSTEM_URLS = {
  caseType: `${CODE_SYSTEM_BASE}/derm-case-type`,
  taskBusinessStatus: `${CODE_SYSTEM_BASE}/econsult-business-status`,
  photoView: `${CODE_SYSTEM_BASE}/derm-photo-view`,
  triagePriority: `${CODE_SYSTEM_BASE}/derm-triage-priority`,
} as const;

/** Task.code that marks a Task as a dermbridge e-consult queue item (see task-lifecycle.ts). */
export const ECONSULT_TASK_CODE = { system: CODE_SYSTEM_URLS.caseType, code: 'econsult-review' } as const;
