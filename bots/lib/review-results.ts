import type {
  Bundle,
  BundleEntry,
  CarePlan,
  CodeableConcept,
  Coding,
  Communication,
  DiagnosticReport,
  Identifier,
  MedicationRequest,
  Provenance,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  Reference,
  Resource,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import conceptMap from '../../fhir-profiles/concept-maps/derm-diagnosis-snomed-to-icd10cm.json';
import followUpIntervals from '../../fhir-profiles/code-systems/derm-follow-up-interval.json';
import { PROFILE_URLS } from '../../src/cases/canonical-urls';
import type { CaseContext } from './case-context';

/**
 * The results of a completed derm-review QuestionnaireResponse (fhir-profiles/README.md, derm-review)
 * as ONE transaction Bundle: everything or nothing is recorded. Every created resource carries an
 * identifier derived from the review and is created with If-None-Exist, so running it twice stores
 * nothing new. Deterministic: times come from the review (`authored`), not the clock.
 */
export const RESULT_ID_SYSTEM = 'https://dermbridge.example.org/fhir/sid/review-result';
const SNOMED = 'http://snomed.info/sct';
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const BUSINESS_STATUS_SYSTEM = 'https://dermbridge.example.org/fhir/CodeSystem/econsult-business-status';

export interface ReviewAnswers {
  readonly diagnosis: Coding;
  readonly differentials: Coding[];
  readonly comment?: string;
  readonly disposition: string;
  readonly questionRecipient?: string;
  readonly questionText?: string;
  readonly referralPriority?: string;
  readonly plan: string;
  readonly medications: { code: Coding; sig: string; refills?: number }[];
  readonly followUp: string;
  readonly patientMessage: string;
  readonly pcpAnswer?: string;
}

export function readReview(review: QuestionnaireResponse): ReviewAnswers {
  const items = review.item ?? [];
  const find = (linkId: string, within: QuestionnaireResponseItem[] = items): QuestionnaireResponseItem[] =>
    within.flatMap((i) => [...(i.linkId === linkId ? [i] : []), ...find(linkId, i.item ?? [])]);
  const first = (linkId: string, within?: QuestionnaireResponseItem[]) => find(linkId, within)[0]?.answer?.[0];
  const diagnosis = first('diagnosis-primary')?.valueCoding;
  const disposition = first('disposition')?.valueCoding?.code;
  if (!diagnosis || !disposition) {
    throw new Error(`Review QuestionnaireResponse/${review.id} lacks diagnosis-primary or disposition`);
  }
  return {
    diagnosis,
    differentials: find('diagnosis-differential').flatMap((i) => (i.answer ?? []).map((a) => a.valueCoding as Coding)),
    comment: first('diagnosis-comment')?.valueString,
    disposition,
    questionRecipient: first('question-recipient')?.valueCoding?.code,
    questionText: first('question-text')?.valueString,
    referralPriority: first('referral-priority')?.valueCoding?.code,
    plan: first('plan')?.valueString ?? '',
    medications: find('medication').map((group) => ({
      code: first('medication-code', group.item)?.valueCoding as Coding,
      sig: first('medication-sig', group.item)?.valueString ?? '',
      refills: first('medication-refills', group.item)?.valueInteger,
    })),
    followUp: first('follow-up-interval')?.valueCoding?.code ?? 'none',
    patientMessage: first('patient-message')?.valueString ?? '',
    pcpAnswer: first('pcp-answer')?.valueString,
  };
}

/** SNOMED CT diagnosis → the CodeableConcept with its ICD-10-CM pair from our ConceptMap. */
export function diagnosisConcept(snomed: Coding): CodeableConcept {
  const element = conceptMap.group.find((g) => g.source === SNOMED && g.target === ICD10CM)?.element.find((e) => e.code === snomed.code);
  const target = element?.target?.[0];
  if (!target) {
    throw new Error(`No ICD-10-CM pair for SNOMED CT ${snomed.code} in ${conceptMap.url}`);
  }
  return { coding: [{ system: SNOMED, code: snomed.code, display: snomed.display ?? element.display }, { system: ICD10CM, code: target.code, display: target.display }], text: snomed.display ?? element.display };
}

function followUpDays(code: string): number | undefined {
  const concept = followUpIntervals.concept.find((c) => c.code === code);
  return concept?.property?.find((p) => p.code === 'days')?.valueInteger;
}

export interface ReviewResults {
  readonly bundle: Bundle;
  /** True when the e-consult Task is completed by this bundle. */
  readonly completesTask: boolean;
}

export function buildReviewResults(review: QuestionnaireResponse & { id: string }, ctx: CaseContext): ReviewResults {
  const answers = readReview(review);
  const sr = ctx.serviceRequest;
  const reviewer = review.author as Reference<never>;
  if (!reviewer?.reference?.startsWith('Practitioner')) {
    throw new Error(`Review QuestionnaireResponse/${review.id} must name the reviewing Practitioner as author`);
  }
  const patient = sr.subject as Reference<never>;
  const caseRef: Reference<ServiceRequest> = { reference: `ServiceRequest/${sr.id}` };
  const when = review.authored ?? (review.meta?.lastUpdated as string);
  const key = `QuestionnaireResponse/${review.id}`;
  const entries: BundleEntry[] = [];
  const add = <T extends Resource & { identifier?: Identifier[] }>(suffix: string, resource: T): Reference => {
    const identifier = { system: RESULT_ID_SYSTEM, value: `${key}#${suffix}` };
    const fullUrl = `urn:uuid:${uuidFrom(`${key}#${suffix}`)}`;
    entries.push({
      fullUrl,
      resource: { ...resource, identifier: [identifier] } as Resource,
      request: { method: 'POST', url: resource.resourceType, ifNoneExist: `identifier=${identifier.system}|${identifier.value}` },
    });
    return { reference: fullUrl };
  };
  const diagnosis = diagnosisConcept(answers.diagnosis);
  const differential = answers.differentials.length ? ` Differential: ${answers.differentials.map((d) => d.display ?? d.code).join(', ')}.` : '';
  const report = add<DiagnosticReport>('report', {
    resourceType: 'DiagnosticReport',
    meta: { profile: [PROFILE_URLS.consultDiagnosticReport] },
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
    basedOn: [caseRef],
    subject: patient,
    effectiveDateTime: when,
    issued: when,
    performer: [reviewer],
    conclusion: `${diagnosis.text}.${answers.comment ? ` ${answers.comment}.` : ''}${differential} Plan: ${answers.plan}`,
    conclusionCode: [diagnosis],
    media: ctx.media.map((m) => ({ link: { reference: `Media/${m.id}` } })),
  });
  const created: Reference[] = [report];
  answers.medications.forEach((med, i) => {
    created.push(
      add<MedicationRequest>(`rx-${i + 1}`, {
        resourceType: 'MedicationRequest',
        meta: { profile: [PROFILE_URLS.medicationRequest] },
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: { coding: [med.code], text: med.code.display },
        subject: patient,
        authoredOn: when,
        requester: reviewer,
        basedOn: [caseRef],
        reasonCode: [diagnosis],
        dosageInstruction: [{ text: med.sig }],
        ...(med.refills !== undefined ? { dispenseRequest: { numberOfRepeatsAllowed: med.refills } } : {}),
      })
    );
  });
  const days = followUpDays(answers.followUp);
  if (days) {
    const due = new Date(new Date(when).getTime() + days * 86_400_000).toISOString();
    const carePlan = add<CarePlan>('care-plan', {
      resourceType: 'CarePlan',
      status: 'active',
      intent: 'plan',
      title: 'Dermatology follow-up',
      description: answers.plan,
      subject: patient,
      supportingInfo: [caseRef],
      author: reviewer,
      created: when,
      period: { start: when, end: due },
    });
    created.push(carePlan);
    created.push(
      add<Task>('follow-up', {
        resourceType: 'Task',
        status: 'requested',
        intent: 'plan',
        priority: 'routine',
        code: { text: 'Dermatology follow-up: send new photos' },
        description: `Send new photos of the same area in ${answers.followUp.replace('-', ' ')} for the dermatologist to compare.`,
        basedOn: [carePlan],
        focus: caseRef,
        for: patient,
        authoredOn: when,
        requester: reviewer,
        restriction: { period: { end: due } },
      })
    );
  }
  if (answers.disposition === 'refer-in-person' || answers.disposition === 'biopsy') {
    created.push(
      add<ServiceRequest>('referral', {
        resourceType: 'ServiceRequest',
        status: 'active',
        intent: 'order',
        priority: (answers.referralPriority as ServiceRequest['priority']) ?? 'routine',
        category: [{ coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }] }],
        code: { text: answers.disposition === 'biopsy' ? 'Skin biopsy' : 'In-person dermatology appointment' },
        subject: patient,
        authoredOn: when,
        requester: reviewer,
        basedOn: [caseRef],
        reasonCode: [diagnosis],
        note: [{ text: answers.plan }],
      })
    );
  }
  created.push(
    add<Communication>('patient-message', {
      resourceType: 'Communication',
      status: 'completed',
      category: [{ text: 'Dermatology answer' }],
      subject: patient,
      recipient: [patient],
      sender: reviewer,
      basedOn: [caseRef],
      about: [report],
      sent: when,
      payload: [{ contentString: answers.patientMessage }],
    })
  );
  const requester = sr.requester?.reference ?? '';
  if (answers.pcpAnswer && /^(Practitioner|PractitionerRole)\//.test(requester)) {
    created.push(
      add<Communication>('pcp-answer', {
        resourceType: 'Communication',
        status: 'completed',
        category: [{ text: 'e-consult answer' }],
        subject: patient,
        recipient: [sr.requester as Reference<never>],
        sender: reviewer,
        basedOn: [caseRef],
        about: [report],
        sent: when,
        payload: [{ contentString: answers.pcpAnswer }],
      })
    );
  }
  if (answers.disposition === 'ask-question' && answers.questionText) {
    const toPcp = answers.questionRecipient === 'pcp' && /^(Practitioner|PractitionerRole)\//.test(requester);
    created.push(
      add<Communication>('question', {
        resourceType: 'Communication',
        status: 'completed',
        category: [{ text: 'Question from the dermatologist' }],
        subject: patient,
        recipient: [toPcp ? (sr.requester as Reference<never>) : patient],
        sender: reviewer,
        basedOn: [caseRef],
        sent: when,
        payload: [{ contentString: answers.questionText }],
      })
    );
  }
  const completesTask = addTaskUpdate(entries, ctx.task, answers, report);
  entries.push({
    fullUrl: `urn:uuid:${uuidFrom(`${key}#provenance`)}`,
    resource: {
      resourceType: 'Provenance',
      target: created,
      recorded: when,
      activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE' }] },
      agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] }, who: reviewer }],
      entity: [{ role: 'source', what: { reference: key } }],
    } satisfies Provenance,
    request: { method: 'POST', url: 'Provenance', ifNoneExist: `entity=${key}` },
  });
  return { bundle: { resourceType: 'Bundle', type: 'transaction', entry: entries }, completesTask };
}

function addTaskUpdate(entries: BundleEntry[], task: (Task & { id: string }) | undefined, answers: ReviewAnswers, report: Reference): boolean {
  if (!task || task.status !== 'in-progress') {
    return false;
  }
  const businessStatus = (code: string, display: string) => ({ coding: [{ system: BUSINESS_STATUS_SYSTEM, code, display }] });
  let next: Task;
  if (answers.disposition === 'ask-question') {
    const forPcp = answers.questionRecipient === 'pcp';
    next = {
      ...task,
      status: 'on-hold',
      businessStatus: forPcp ? businessStatus('awaiting-pcp-response', 'Awaiting PCP response') : businessStatus('awaiting-patient-response', 'Awaiting patient response'),
    };
  } else {
    const referred = answers.disposition === 'refer-in-person' || answers.disposition === 'biopsy';
    next = {
      ...task,
      status: 'completed',
      businessStatus: referred ? businessStatus('referred-in-person', 'Referred for in-person care') : businessStatus('results-sent', 'Results sent'),
      output: [{ type: { text: 'Consult report' }, valueReference: report }],
    };
  }
  entries.push({ resource: next, request: { method: 'PUT', url: `Task/${task.id}` } });
  return next.status === 'completed';
}

/** A deterministic RFC 4122-shaped id from a string (FNV-1a rounds); only used inside one Bundle. */
function uuidFrom(text: string): string {
  let hex = '';
  for (let round = 0; hex.length < 32; round++) {
    let h = 0x811c9dc5 ^ round;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    hex += h.toString(16).padStart(8, '0');
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
