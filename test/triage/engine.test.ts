import type { QuestionnaireResponse } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INTAKE_TRIAGE_INPUTS } from '../../src/cases/intake-triage-inputs';
import type { AnswerValue } from '../../src/triage/conditions';
import { linkIdsOf } from '../../src/triage/conditions';
import { answersFromResponse, rationale, triage } from '../../src/triage/engine';
import { TRIAGE_RULES } from '../../src/triage/rules';

const AS_OF = new Date('2025-01-14T19:02:00Z');

/** A benign adult intake: every red flag no, a lesion with no worrying feature. */
const BASE: Record<string, AnswerValue> = {
  'patient-birth-date': '1972-03-04',
  'concern-type': 'lesion',
  'onset-duration': '1-to-4-weeks',
  'rf-trouble-breathing': false,
  'rf-swelling-lips-tongue-throat': false,
  'rf-fever': false,
  'rf-red-most-of-body': false,
  'rf-blistering-peeling': false,
  'rf-new-medicine-8-weeks': false,
  'rf-red-hot-swollen-skin': false,
  'rf-eye-involvement': false,
  'lesion-new': false,
  'lesion-diameter-mm': 4,
  'lesion-change-size': false,
  'lesion-change-shape': false,
  'lesion-change-colour': false,
  'lesion-asymmetric': false,
  'lesion-border-irregular': false,
  'lesion-shape-irregular': false,
  'lesion-colour-irregular': false,
  'lesion-sensation-change': false,
  'lesion-inflamed': false,
  'lesion-oozing': false,
  'lesion-crusted': false,
  'lesion-bleeding': false,
  'lesion-sore-not-healing': false,
  'treatment-tried': false,
  'history-eczema': false,
  'history-immunosuppressed': false,
  'history-organ-transplant': false,
  'history-skin-cancer': false,
  'history-family-melanoma': false,
};

function run(overrides: Record<string, AnswerValue>, asOf = AS_OF): ReturnType<typeof triage> {
  const answers = new Map<string, AnswerValue[]>(Object.entries({ ...BASE, ...overrides }).map(([k, v]) => [k, [v]]));
  return triage(answers, asOf);
}

function firedIds(result: ReturnType<typeof triage>): string[] {
  return result.fired.map((r) => r.id);
}

interface Vignette {
  readonly name: string;
  readonly answers: Record<string, AnswerValue>;
  readonly priority: 'P0' | 'P1' | 'P2';
  readonly fires: readonly string[];
  readonly notFires?: readonly string[];
  /** Substrings the rationale must contain (the triggering answers). */
  readonly rationale?: readonly string[];
}

const VIGNETTES: readonly Vignette[] = [
  { name: 'a benign lesion is routine', answers: {}, priority: 'P2', fires: ['p2-routine'], rationale: ['concern-type=lesion'] },
  {
    name: 'blistering with mouth sores after a new drug is possible SJS/TEN',
    answers: { 'rf-blistering-peeling': true, 'rf-mucosal-sores': true, 'rf-new-medicine-8-weeks': true, 'rf-skin-detached-extent': 'over-10-percent' },
    priority: 'P0',
    fires: ['p0-sjs-ten'],
    rationale: ['rf-mucosal-sores=true', 'rf-new-medicine-8-weeks=true'],
  },
  { name: 'blistering with mouth sores but no new drug is not SJS/TEN', answers: { 'rf-blistering-peeling': true, 'rf-mucosal-sores': true }, priority: 'P2', fires: ['p2-routine'], notFires: ['p0-sjs-ten'] },
  { name: 'red over 90 % of the body is erythroderma', answers: { 'rf-red-most-of-body': true }, priority: 'P0', fires: ['p0-erythroderma'], rationale: ['rf-red-most-of-body=true'] },
  {
    name: 'fever, a drug started 3 weeks ago and organ symptoms is possible DRESS',
    answers: { 'rf-fever': true, 'rf-rash-severe': false, 'rf-new-medicine-8-weeks': true, 'rf-new-medicine-weeks-ago': 3, 'rf-organ-symptoms': true },
    priority: 'P0',
    fires: ['p0-dress'],
    rationale: ['rf-new-medicine-weeks-ago=3'],
  },
  {
    name: 'a drug started 1 week ago is outside the DRESS window (2-8 weeks)',
    answers: { 'rf-fever': true, 'rf-rash-severe': false, 'rf-new-medicine-8-weeks': true, 'rf-new-medicine-weeks-ago': 1, 'rf-organ-symptoms': true },
    priority: 'P2',
    fires: ['p2-routine'],
  },
  { name: 'a swelling tongue is an airway emergency', answers: { 'rf-swelling-lips-tongue-throat': true }, priority: 'P0', fires: ['p0-angioedema-airway'] },
  { name: 'trouble breathing is an airway emergency', answers: { 'rf-trouble-breathing': true }, priority: 'P0', fires: ['p0-angioedema-airway'], rationale: ['rf-trouble-breathing=true'] },
  { name: 'fever with a severe rash is P0', answers: { 'rf-fever': true, 'rf-rash-severe': true }, priority: 'P0', fires: ['p0-severe-rash-fever'] },
  { name: 'fever with a mild rash is not P0', answers: { 'rf-fever': true, 'rf-rash-severe': false }, priority: 'P2', fires: ['p2-routine'] },
  {
    name: 'cellulitis with confusion is P0',
    answers: { 'rf-red-hot-swollen-skin': true, 'rf-confusion': true, 'rf-fast-heart-or-breathing': false, 'rf-faint-or-low-blood-pressure': false, 'rf-cellulitis-spreading-fast': false },
    priority: 'P0',
    fires: ['p0-cellulitis'],
    rationale: ['rf-confusion=true', 'rf-red-hot-swollen-skin=true'],
  },
  {
    name: 'cellulitis around the eye is P0',
    answers: { 'rf-red-hot-swollen-skin': true, 'rf-eye-involvement': true, 'rf-confusion': false },
    priority: 'P0',
    fires: ['p0-cellulitis'],
    rationale: ['rf-eye-involvement=true'],
  },
  {
    name: 'red hot skin without systemic signs is not P0',
    answers: { 'rf-red-hot-swollen-skin': true, 'rf-confusion': false, 'rf-fast-heart-or-breathing': false, 'rf-faint-or-low-blood-pressure': false, 'rf-cellulitis-spreading-fast': false },
    priority: 'P2',
    fires: ['p2-routine'],
  },
  { name: 'painful punched-out sores in eczema is possible eczema herpeticum', answers: { 'history-eczema': true, 'rf-eczema-painful-sores': true }, priority: 'P0', fires: ['p0-eczema-herpeticum'] },
  {
    name: 'a 7-point score of 2 (change in size only) does not fire NICE',
    answers: { 'lesion-change-size': true },
    priority: 'P2',
    fires: ['p2-routine'],
    notFires: ['p1-nice-7-point'],
  },
  {
    name: 'a 7-point score of 3 (change in size + oozing) fires NICE',
    answers: { 'lesion-change-size': true, 'lesion-oozing': true },
    priority: 'P1',
    fires: ['p1-nice-7-point'],
    rationale: ['score 3', 'change in size (2)', 'oozing (1)', 'lesion-oozing=true'],
  },
  {
    name: 'diameter 6 mm scores no 7-point minor point and no ABCDE D',
    answers: { 'lesion-colour-irregular': true, 'lesion-diameter-mm': 6 },
    priority: 'P2',
    fires: ['p2-routine'],
    notFires: ['p1-nice-7-point', 'p1-abcde'],
  },
  {
    name: 'diameter 7 mm adds the minor point (score 3) and the ABCDE D',
    answers: { 'lesion-colour-irregular': true, 'lesion-diameter-mm': 7 },
    priority: 'P1',
    fires: ['p1-nice-7-point', 'p1-abcde'],
    rationale: ['largest diameter >= 7 mm (1)', 'lesion-diameter-mm=7', 'diameter > 6 mm'],
  },
  {
    name: 'asymmetry and an irregular border fire ABCDE (2 of 5) without a 7-point score',
    answers: { 'lesion-asymmetric': true, 'lesion-border-irregular': true },
    priority: 'P1',
    fires: ['p1-abcde'],
    notFires: ['p1-nice-7-point'],
    rationale: ['2 of 5 features', 'asymmetry', 'border irregular'],
  },
  { name: 'asymmetry alone does not fire ABCDE', answers: { 'lesion-asymmetric': true }, priority: 'P2', fires: ['p2-routine'] },
  {
    name: 'a crusted non-healing lesion over 10 mm is possible SCC',
    answers: { 'lesion-crusted': true, 'lesion-sore-not-healing': true, 'lesion-diameter-mm': 12, 'onset-duration': '1-to-4-weeks' },
    priority: 'P1',
    fires: ['p1-possible-scc'],
    rationale: ['lesion-crusted=true', 'lesion-diameter-mm=12'],
  },
  {
    name: 'a new lesion in an immunosuppressed patient is possible SCC',
    answers: { 'lesion-new': true, 'history-immunosuppressed': true },
    priority: 'P1',
    fires: ['p1-possible-scc'],
    rationale: ['history-immunosuppressed=true', 'lesion-new=true'],
  },
  {
    name: 'a new lesion in an organ-transplant recipient is possible SCC',
    answers: { 'lesion-new': true, 'history-organ-transplant': true },
    priority: 'P1',
    fires: ['p1-possible-scc'],
    rationale: ['history-organ-transplant=true'],
  },
  { name: 'a new lesion without immunosuppression is routine', answers: { 'lesion-new': true }, priority: 'P2', fires: ['p2-routine'] },
  { name: 'spontaneous bleeding is P1', answers: { 'lesion-bleeding': true, 'lesion-bleeding-spontaneous': true }, priority: 'P1', fires: ['p1-bleeding-or-rapid-change'] },
  {
    name: 'a sore not healed for 4-8 weeks is P1',
    answers: { 'lesion-sore-not-healing': true, 'onset-duration': '4-to-8-weeks' },
    priority: 'P1',
    fires: ['p1-sore-not-healed-4-weeks'],
    rationale: ['onset-duration=4-to-8-weeks'],
  },
  { name: 'a sore present 1-4 weeks is not yet P1', answers: { 'lesion-sore-not-healing': true, 'onset-duration': '1-to-4-weeks' }, priority: 'P2', fires: ['p2-routine'] },
  { name: 'a new pigmented nail band is P1', answers: { 'concern-type': 'nail', 'lesion-nail-pigmented-band': true }, priority: 'P1', fires: ['p1-nail-pigmented-band'] },
  {
    name: "a child's eczema not improved after 7 days of treatment is P1",
    answers: { 'patient-birth-date': '2019-06-01', 'concern-type': 'rash', 'history-eczema': true, 'treatment-tried': true, 'treatment-duration-days': 7, 'treatment-response': 'not-improved' },
    priority: 'P1',
    fires: ['p1-child-eczema-not-improving'],
    rationale: ['treatment-duration-days=7', 'treatment-response=not-improved'],
  },
  {
    name: "a child's eczema after only 6 days of treatment is routine",
    answers: { 'patient-birth-date': '2019-06-01', 'concern-type': 'rash', 'history-eczema': true, 'treatment-tried': true, 'treatment-duration-days': 6, 'treatment-response': 'not-improved' },
    priority: 'P2',
    fires: ['p2-routine'],
  },
  {
    name: "an adult's eczema not improving is routine",
    answers: { 'concern-type': 'rash', 'history-eczema': true, 'treatment-tried': true, 'treatment-duration-days': 14, 'treatment-response': 'worse' },
    priority: 'P2',
    fires: ['p2-routine'],
  },
  { name: "a referring clinician's strong concern is P1", answers: { 'pcp-suspects-cancer': true }, priority: 'P1', fires: ['p1-pcp-strong-concern'] },
  {
    name: 'P0 wins over P1 and every fired rule is reported',
    answers: { 'rf-trouble-breathing': true, 'lesion-change-size': true, 'lesion-oozing': true },
    priority: 'P0',
    fires: ['p0-angioedema-airway', 'p1-nice-7-point'],
  },
];

describe('src/triage (rules as data)', () => {
  for (const v of VIGNETTES) {
    it(v.name, () => {
      const result = run(v.answers);
      assert.equal(result.priority, v.priority);
      assert.deepEqual(firedIds(result), v.fires);
      for (const id of v.notFires ?? []) {
        assert.ok(!firedIds(result).includes(id), `${id} must not fire`);
      }
      const text = rationale(result);
      for (const fragment of v.rationale ?? []) {
        assert.ok(text.includes(fragment), `rationale lacks "${fragment}": ${text}`);
      }
      for (const fired of result.fired) {
        assert.ok(text.includes(fired.source), 'the rationale names each fired rule source');
      }
    });
  }

  it('the child boundary is the 12th birthday, computed on the response date', () => {
    const answers = { 'concern-type': 'rash', 'history-eczema': true, 'treatment-tried': true, 'treatment-duration-days': 10, 'treatment-response': 'worse' };
    assert.equal(run({ ...answers, 'patient-birth-date': '2013-01-15' }).priority, 'P1');
    assert.equal(run({ ...answers, 'patient-birth-date': '2013-01-14' }).priority, 'P2');
  });

  it('every rule reads only the linkIds declared for it in intake-triage-inputs.ts', () => {
    for (const rule of TRIAGE_RULES.filter((r) => r.id !== 'p1-pcp-strong-concern')) {
      const declared = INTAKE_TRIAGE_INPUTS.find((i) => i.rule === rule.id);
      assert.ok(declared, rule.id);
      for (const linkId of linkIdsOf(rule.when)) {
        assert.ok(linkId in declared.inputs, `${rule.id} reads ${linkId}, not declared`);
      }
    }
  });

  it('the sample case intake response triages P1 with the NICE score 6', () => {
    const bundle = JSON.parse(readFileSync(join(__dirname, '../../fhir-profiles/examples/sample-case.transaction.json'), 'utf8'));
    const qr = bundle.entry.find((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'QuestionnaireResponse').resource as QuestionnaireResponse;
    const result = triage(answersFromResponse(qr), new Date(qr.authored as string));
    assert.equal(result.priority, 'P1');
    assert.ok(rationale(result).includes('score 6'), rationale(result));
    assert.equal(result.notes.length, TRIAGE_RULES.length);
  });
});
