/**
 * Which derm-intake answers each triage rule of CLINICAL.md reads. This is the contract between
 * the intake Questionnaire and the triage engine: tests check that every linkId here exists in
 * fhir-profiles/questionnaires/derm-intake.json with the stated type and can be reached, so a
 * Questionnaire edit cannot silently starve a rule. The rule logic itself belongs to the engine.
 */
export type IntakeItemType = 'boolean' | 'decimal' | 'integer' | 'date' | 'choice' | 'attachment';

export interface TriageRuleInputs {
  /** Stable rule id, used in RiskAssessment rationale and notes. */
  readonly rule: string;
  readonly priority: 'P0' | 'P1' | 'P2';
  /** Public guidance the rule encodes. */
  readonly source: string;
  /** The criterion, in words, as it maps onto the answers. */
  readonly criterion: string;
  /** linkId → item type. */
  readonly inputs: Readonly<Record<string, IntakeItemType>>;
}

const P0_SOURCE = 'CLINICAL.md P0; NICE NG141 (cellulitis), BSACI guidance, emergency-medicine guidance';
const NG12 = 'NICE NG12 (suspected cancer: recognition and referral), CLINICAL.md P1';

export const INTAKE_TRIAGE_INPUTS: readonly TriageRuleInputs[] = [
  {
    rule: 'p0-sjs-ten',
    priority: 'P0',
    source: P0_SOURCE,
    criterion: 'blistering/peeling AND mucosal sores AND new medicine in 8 weeks; detached extent over-10-percent → emergency department',
    inputs: { 'rf-blistering-peeling': 'boolean', 'rf-mucosal-sores': 'boolean', 'rf-new-medicine-8-weeks': 'boolean', 'rf-skin-detached-extent': 'choice' },
  },
  { rule: 'p0-erythroderma', priority: 'P0', source: P0_SOURCE, criterion: 'red over > 90 % of the body', inputs: { 'rf-red-most-of-body': 'boolean' } },
  {
    rule: 'p0-dress',
    priority: 'P0',
    source: P0_SOURCE,
    criterion: 'fever AND new medicine started 2-8 weeks ago AND organ symptoms',
    inputs: { 'rf-fever': 'boolean', 'rf-new-medicine-8-weeks': 'boolean', 'rf-new-medicine-weeks-ago': 'integer', 'rf-organ-symptoms': 'boolean' },
  },
  {
    rule: 'p0-angioedema-airway',
    priority: 'P0',
    source: P0_SOURCE,
    criterion: 'swelling of lips/tongue/throat OR trouble breathing',
    inputs: { 'rf-swelling-lips-tongue-throat': 'boolean', 'rf-trouble-breathing': 'boolean' },
  },
  { rule: 'p0-severe-rash-fever', priority: 'P0', source: P0_SOURCE, criterion: 'fever AND severe (widespread, fast-spreading or very unwell) rash', inputs: { 'rf-fever': 'boolean', 'rf-rash-severe': 'boolean' } },
  {
    rule: 'p0-cellulitis',
    priority: 'P0',
    source: P0_SOURCE,
    criterion: 'red hot swollen skin AND (confusion OR fast heart/breathing OR faint/low blood pressure OR around the eye OR spreading fast)',
    inputs: {
      'rf-red-hot-swollen-skin': 'boolean',
      'rf-confusion': 'boolean',
      'rf-fast-heart-or-breathing': 'boolean',
      'rf-faint-or-low-blood-pressure': 'boolean',
      'rf-eye-involvement': 'boolean',
      'rf-cellulitis-spreading-fast': 'boolean',
    },
  },
  { rule: 'p0-eczema-herpeticum', priority: 'P0', source: P0_SOURCE, criterion: 'known eczema AND painful clustered/punched-out sores spreading fast', inputs: { 'history-eczema': 'boolean', 'rf-eczema-painful-sores': 'boolean' } },
  {
    rule: 'p1-nice-7-point',
    priority: 'P1',
    source: NG12,
    criterion: 'score >= 3: change in size, irregular shape, irregular colour (2 each); diameter >= 7 mm, inflammation, oozing, change in sensation (1 each)',
    inputs: {
      'lesion-change-size': 'boolean',
      'lesion-shape-irregular': 'boolean',
      'lesion-colour-irregular': 'boolean',
      'lesion-diameter-mm': 'decimal',
      'lesion-inflamed': 'boolean',
      'lesion-oozing': 'boolean',
      'lesion-sensation-change': 'boolean',
    },
  },
  {
    rule: 'p1-abcde',
    priority: 'P1',
    source: 'ABCDE melanoma criteria, CLINICAL.md P1',
    criterion: 'asymmetry, border, colour, diameter > 6 mm, evolving (change in size/shape/colour)',
    inputs: {
      'lesion-asymmetric': 'boolean',
      'lesion-border-irregular': 'boolean',
      'lesion-colour-irregular': 'boolean',
      'lesion-diameter-mm': 'decimal',
      'lesion-change-size': 'boolean',
      'lesion-change-shape': 'boolean',
      'lesion-change-colour': 'boolean',
    },
  },
  {
    rule: 'p1-possible-scc',
    priority: 'P1',
    source: NG12,
    criterion: 'crusted non-healing lesion > 10 mm; or growing lesion present >= 8 weeks; or new/growing lesion in an organ-transplant recipient or immunosuppressed patient',
    inputs: {
      'lesion-crusted': 'boolean',
      'lesion-sore-not-healing': 'boolean',
      'lesion-diameter-mm': 'decimal',
      'lesion-change-size': 'boolean',
      'onset-duration': 'choice',
      'lesion-new': 'boolean',
      'history-organ-transplant': 'boolean',
      'history-immunosuppressed': 'boolean',
    },
  },
  {
    rule: 'p1-bleeding-or-rapid-change',
    priority: 'P1',
    source: 'CLINICAL.md P1',
    criterion: 'spontaneous bleeding OR rapid change',
    inputs: { 'lesion-bleeding-spontaneous': 'boolean', 'lesion-change-rapid': 'boolean' },
  },
  {
    rule: 'p1-sore-not-healed-4-weeks',
    priority: 'P1',
    source: 'CLINICAL.md P1',
    criterion: 'sore not healing AND onset >= 4 weeks',
    inputs: { 'lesion-sore-not-healing': 'boolean', 'onset-duration': 'choice' },
  },
  { rule: 'p1-nail-pigmented-band', priority: 'P1', source: 'CLINICAL.md P1', criterion: 'new pigmented nail band or lesion under the nail', inputs: { 'lesion-nail-pigmented-band': 'boolean' } },
  {
    rule: 'p1-child-eczema-not-improving',
    priority: 'P1',
    source: 'CLINICAL.md P1',
    criterion: 'child (from birth date) with eczema, treated >= 7 days, not improved or worse',
    inputs: {
      'patient-birth-date': 'date',
      'history-eczema': 'boolean',
      'treatment-tried': 'boolean',
      'treatment-duration-days': 'integer',
      'treatment-response': 'choice',
    },
  },
  {
    rule: 'p2-routine',
    priority: 'P2',
    source: 'CLINICAL.md P2',
    criterion: 'no P0/P1 rule fired; concern type and history guide the queue (BCC site/size, low-suspicion pigmented lesion, acne, eczema, ...)',
    inputs: { 'concern-type': 'choice', 'concern-body-sites': 'choice', 'history-skin-cancer': 'boolean', 'history-family-melanoma': 'boolean' },
  },
];
