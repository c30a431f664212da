import { INTAKE_TRIAGE_INPUTS } from '../cases/intake-triage-inputs';
import type { Condition } from './conditions';

/**
 * The triage rules of ../shared/CLINICAL.md as data. Each rule names its source and the answers
 * (derm-intake / derm-econsult linkIds) it reads; `src/cases/intake-triage-inputs.ts` is the
 * contract for the intake linkIds and a test checks every rule reads only what it declares there.
 * Order matters only for presentation: every rule is evaluated, every fired rule is reported.
 */
export type TriagePriority = 'P0' | 'P1' | 'P2';

export interface TriageRule {
  readonly id: string;
  readonly priority: TriagePriority;
  readonly title: string;
  readonly source: string;
  readonly criterion: string;
  readonly when: Condition;
  /** Patient-facing advice given when the rule fires (P0: where to go now). */
  readonly advice?: string;
}

export const RULE_SET_VERSION = 'dermbridge triage rules 2025-01';

/** onset-duration codes (derm-onset-duration, `min-weeks` property) at or beyond a number of weeks. */
const ONSET_AT_LEAST_4_WEEKS = ['4-to-8-weeks', '8-weeks-to-1-year', 'over-1-year', 'since-birth'] as const;
const ONSET_AT_LEAST_8_WEEKS = ['8-weeks-to-1-year', 'over-1-year', 'since-birth'] as const;

const EMERGENCY = 'Call 999/911 or go to the nearest emergency department now. Do not wait for the dermatologist.';
const SAME_DAY = 'You need to see a doctor today: go to urgent care or an emergency department now. Do not wait for the dermatologist.';

function declared(id: string): { source: string; criterion: string } {
  const inputs = INTAKE_TRIAGE_INPUTS.find((r) => r.rule === id);
  if (!inputs) {
    throw new Error(`triage rule ${id} is not declared in intake-triage-inputs.ts`);
  }
  return { source: inputs.source, criterion: inputs.criterion };
}

export const TRIAGE_RULES: readonly TriageRule[] = [
  {
    id: 'p0-sjs-ten',
    priority: 'P0',
    title: 'Possible SJS/TEN',
    ...declared('p0-sjs-ten'),
    when: { all: [{ yes: 'rf-blistering-peeling' }, { yes: 'rf-mucosal-sores' }, { yes: 'rf-new-medicine-8-weeks' }] },
    advice: `Blistering or peeling skin with sores in the mouth, eyes or genitals after a new medicine can be a severe drug reaction. ${EMERGENCY} Bring the medicine with you.`,
  },
  {
    id: 'p0-erythroderma',
    priority: 'P0',
    title: 'Erythroderma',
    ...declared('p0-erythroderma'),
    when: { yes: 'rf-red-most-of-body' },
    advice: `Redness over nearly all of your skin needs urgent care. ${EMERGENCY}`,
  },
  {
    id: 'p0-dress',
    priority: 'P0',
    title: 'Possible DRESS',
    ...declared('p0-dress'),
    when: { all: [{ yes: 'rf-fever' }, { yes: 'rf-new-medicine-8-weeks' }, { between: ['rf-new-medicine-weeks-ago', 2, 8] }, { yes: 'rf-organ-symptoms' }] },
    advice: `A rash with fever and other symptoms weeks after a new medicine can be a serious drug reaction. ${SAME_DAY} Bring the medicine with you.`,
  },
  {
    id: 'p0-angioedema-airway',
    priority: 'P0',
    title: 'Swelling of lips/tongue/throat or trouble breathing',
    ...declared('p0-angioedema-airway'),
    when: { any: [{ yes: 'rf-swelling-lips-tongue-throat' }, { yes: 'rf-trouble-breathing' }] },
    advice: `Swelling of the lips, tongue or throat, or trouble breathing, is an emergency. ${EMERGENCY}`,
  },
  {
    id: 'p0-severe-rash-fever',
    priority: 'P0',
    title: 'Severe rash with fever',
    ...declared('p0-severe-rash-fever'),
    when: { all: [{ yes: 'rf-fever' }, { yes: 'rf-rash-severe' }] },
    advice: `A widespread or fast-spreading rash with fever needs a doctor today. ${SAME_DAY}`,
  },
  {
    id: 'p0-cellulitis',
    priority: 'P0',
    title: 'Cellulitis with systemic signs, around the eye or spreading fast',
    ...declared('p0-cellulitis'),
    when: {
      all: [
        { yes: 'rf-red-hot-swollen-skin' },
        {
          any: [
            { yes: 'rf-confusion' },
            { yes: 'rf-fast-heart-or-breathing' },
            { yes: 'rf-faint-or-low-blood-pressure' },
            { yes: 'rf-eye-involvement' },
            { yes: 'rf-cellulitis-spreading-fast' },
          ],
        },
      ],
    },
    advice: `Red, hot, swollen skin with these signs can be a serious infection. ${SAME_DAY}`,
  },
  {
    id: 'p0-eczema-herpeticum',
    priority: 'P0',
    title: 'Possible eczema herpeticum',
    ...declared('p0-eczema-herpeticum'),
    when: { all: [{ yes: 'history-eczema' }, { yes: 'rf-eczema-painful-sores' }] },
    advice: `Painful clusters of blisters or sores spreading in eczema can be a viral infection that needs treatment today. ${SAME_DAY}`,
  },
  {
    id: 'p1-nice-7-point',
    priority: 'P1',
    title: 'NICE NG12 weighted 7-point checklist',
    ...declared('p1-nice-7-point'),
    when: {
      scoreAtLeast: 3,
      items: [
        { label: 'change in size', points: 2, when: { yes: 'lesion-change-size' } },
        { label: 'irregular shape', points: 2, when: { yes: 'lesion-shape-irregular' } },
        { label: 'irregular colour', points: 2, when: { yes: 'lesion-colour-irregular' } },
        { label: 'largest diameter >= 7 mm', points: 1, when: { atLeast: ['lesion-diameter-mm', 7] } },
        { label: 'inflammation', points: 1, when: { yes: 'lesion-inflamed' } },
        { label: 'oozing', points: 1, when: { yes: 'lesion-oozing' } },
        { label: 'change in sensation', points: 1, when: { yes: 'lesion-sensation-change' } },
      ],
    },
  },
  {
    id: 'p1-abcde',
    priority: 'P1',
    title: 'ABCDE melanoma features',
    source: declared('p1-abcde').source,
    // CLINICAL.md lists the features but no count; 2 of 5 is dermbridge's choice (to review with clinicians).
    criterion: `${declared('p1-abcde').criterion}; at least 2 of the 5 features`,
    when: {
      countAtLeast: 2,
      of: [
        { label: 'asymmetry', when: { yes: 'lesion-asymmetric' } },
        { label: 'border irregular', when: { yes: 'lesion-border-irregular' } },
        { label: 'colour variegated', when: { yes: 'lesion-colour-irregular' } },
        { label: 'diameter > 6 mm', when: { above: ['lesion-diameter-mm', 6] } },
        {
          label: 'evolving',
          when: { any: [{ yes: 'lesion-change-size' }, { yes: 'lesion-change-shape' }, { yes: 'lesion-change-colour' }] },
        },
      ],
    },
  },
  {
    id: 'p1-possible-scc',
    priority: 'P1',
    title: 'Possible squamous cell carcinoma',
    ...declared('p1-possible-scc'),
    when: {
      any: [
        { all: [{ yes: 'lesion-crusted' }, { yes: 'lesion-sore-not-healing' }, { above: ['lesion-diameter-mm', 10] }] },
        { all: [{ yes: 'lesion-change-size' }, { oneOf: ['onset-duration', ONSET_AT_LEAST_8_WEEKS] }] },
        {
          all: [
            { any: [{ yes: 'lesion-new' }, { yes: 'lesion-change-size' }] },
            { any: [{ yes: 'history-organ-transplant' }, { yes: 'history-immunosuppressed' }] },
          ],
        },
      ],
    },
  },
  {
    id: 'p1-bleeding-or-rapid-change',
    priority: 'P1',
    title: 'Spontaneous bleeding or rapid change',
    ...declared('p1-bleeding-or-rapid-change'),
    when: { any: [{ yes: 'lesion-bleeding-spontaneous' }, { yes: 'lesion-change-rapid' }] },
  },
  {
    id: 'p1-sore-not-healed-4-weeks',
    priority: 'P1',
    title: 'Sore not healed after 4 weeks',
    ...declared('p1-sore-not-healed-4-weeks'),
    when: { all: [{ yes: 'lesion-sore-not-healing' }, { oneOf: ['onset-duration', ONSET_AT_LEAST_4_WEEKS] }] },
  },
  {
    id: 'p1-nail-pigmented-band',
    priority: 'P1',
    title: 'New pigmented nail band or lesion under the nail',
    ...declared('p1-nail-pigmented-band'),
    when: { yes: 'lesion-nail-pigmented-band' },
  },
  {
    id: 'p1-child-eczema-not-improving',
    priority: 'P1',
    title: "Child's eczema not improving after 1 week of treatment",
    source: `${declared('p1-child-eczema-not-improving').source}; child = under 12 (NICE CG57, atopic eczema in under 12s)`,
    criterion: declared('p1-child-eczema-not-improving').criterion,
    when: {
      all: [
        { ageUnder: ['patient-birth-date', 12] },
        { yes: 'history-eczema' },
        { yes: 'treatment-tried' },
        { atLeast: ['treatment-duration-days', 7] },
        { oneOf: ['treatment-response', ['not-improved', 'worse']] },
      ],
    },
  },
  {
    id: 'p1-pcp-strong-concern',
    priority: 'P1',
    title: 'Referring clinician suspects skin cancer',
    source: 'NICE NG12 (strong clinical concern overrides a low 7-point score), CLINICAL.md P1',
    criterion: 'derm-econsult pcp-suspects-cancer = true',
    when: { yes: 'pcp-suspects-cancer' },
  },
];

/** Fires when no P0/P1 rule fired; its evidence is what guides the routine queue. */
export const ROUTINE_RULE = { id: 'p2-routine', priority: 'P2' as const, title: 'Routine', ...declared('p2-routine') };

/** FHIR request priority per triage priority (derm-triage-priority `request-priority` property). */
export const REQUEST_PRIORITY: Readonly<Record<TriagePriority, 'stat' | 'urgent' | 'routine'>> = { P0: 'stat', P1: 'urgent', P2: 'routine' };

/**
 * Review due time after the case was authored, per priority. P1: 2 days (the sample case's 48 h,
 * inside the 2-week suspected-cancer pathway); P0 cases should never wait, so 1 hour is the
 * alarm for a P0 that somehow is still queued; P2: 7 days.
 */
export const DUE_AFTER_HOURS: Readonly<Record<TriagePriority, number>> = { P0: 1, P1: 48, P2: 168 };

export const PRIORITY_DISPLAY: Readonly<Record<TriagePriority, string>> = {
  P0: 'P0 - emergency: stop the asynchronous path',
  P1: 'P1 - urgent: suspected cancer pathway (2 weeks)',
  P2: 'P2 - routine',
};

export const QUEUE_ADVICE: Readonly<Record<'P1' | 'P2', string>> = {
  P1: 'A dermatologist will review your photos within 2 working days.',
  P2: 'A dermatologist will review your photos within 7 days.',
};
