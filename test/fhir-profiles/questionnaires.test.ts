import assert from 'node:assert/strict';
import { getAllQuestionnaireAnswers, validateResource } from '@medplum/core';
import type {
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
} from '@medplum/fhirtypes';
import { CODE_SYSTEM_BASE } from '../../src/cases/canonical-urls';
import { INTAKE_TRIAGE_INPUTS } from '../../src/cases/intake-triage-inputs';
import { checkQuestionnaireResponse } from '../../src/cases/questionnaire-response-check';
import { loadBaseDefinitions } from '../../src/fhir/definitions';
import { fillQuestionnaire, type FillOptions } from './questionnaire-filler';
import { ourValueSets, readProfileFiles, readQuestionnaire } from './profile-files';

const valueSets = ourValueSets();
const yes: QuestionnaireResponseItemAnswer[] = [{ valueBoolean: true }];
const coding = (cs: string, code: string): QuestionnaireResponseItemAnswer[] => [{ valueCoding: { system: `${CODE_SYSTEM_BASE}/${cs}`, code } }];
const twoCloseUps: QuestionnaireResponseItemAnswer[] = [
  { valueAttachment: { contentType: 'image/jpeg', url: 'Binary/close-up-1' } },
  { valueAttachment: { contentType: 'image/jpeg', url: 'Binary/close-up-2' } },
];
/** Answers every form needs to be complete (consents given, enough photos). */
const BASELINE: Record<string, QuestionnaireResponseItemAnswer[]> = {
  'consent-store-and-forward': yes,
  'consent-interprofessional': yes,
  'photo-close-up': twoCloseUps,
};
/** Answers that switch on every conditional item of derm-intake. */
const INTAKE_ALL_BRANCHES: Record<string, QuestionnaireResponseItemAnswer[]> = {
  ...BASELINE,
  'concern-type': coding('derm-concern-type', 'nail'),
  'rf-fever': yes,
  'rf-blistering-peeling': yes,
  'rf-new-medicine-8-weeks': yes,
  'rf-red-hot-swollen-skin': yes,
  'history-eczema': yes,
  'lesion-change-size': yes,
  'lesion-bleeding': yes,
  'treatment-tried': yes,
  'history-immunosuppressed': yes,
  'history-skin-cancer': yes,
};

function fill(id: string, answers: Record<string, QuestionnaireResponseItemAnswer[]> = BASELINE, more: Partial<FillOptions> = {}) {
  const questionnaire = readQuestionnaire(id);
  return { questionnaire, response: fillQuestionnaire(questionnaire, { valueSets, answers, ...more }) };
}

function messages(questionnaire: Questionnaire, response: QuestionnaireResponse): string[] {
  return checkQuestionnaireResponse(questionnaire, response, { valueSets }).map((i) => `${i.expression?.[0]}: ${i.diagnostics}`);
}

function allItems(items: readonly QuestionnaireItem[] = []): QuestionnaireItem[] {
  return items.flatMap((i) => [i, ...allItems(i.item)]);
}

function findItem(items: QuestionnaireResponseItem[] | undefined, linkId: string): QuestionnaireResponseItem | undefined {
  for (const item of items ?? []) {
    if (item.linkId === linkId) return item;
    const nested = findItem([...(item.item ?? []), ...(item.answer ?? []).flatMap((a) => a.item ?? [])], linkId);
    if (nested) return nested;
  }
  return undefined;
}

describe('fhir-profiles/questionnaires (render-ready forms)', () => {
  before(() => loadBaseDefinitions());

  for (const id of ['derm-intake', 'derm-econsult', 'derm-review']) {
    describe(id, () => {
      it('is filled programmatically into a response that conforms to it and to base R4', () => {
        const { questionnaire, response } = fill(id);
        assert.deepEqual(messages(questionnaire, response), []);
        validateResource(response);
      });

      it('rejects an empty completed response, naming required items', () => {
        const { questionnaire } = fill(id);
        const out = messages(questionnaire, { resourceType: 'QuestionnaireResponse', questionnaire: questionnaire.url, status: 'completed' });
        assert.ok(out.length > 0 && out.every((m) => / is required but (missing|has no answer)/.test(m)), out.join('\n'));
      });

      it('uses kebab-case linkIds, each once', () => {
        const linkIds = allItems(readQuestionnaire(id).item).map((i) => i.linkId);
        assert.equal(new Set(linkIds).size, linkIds.length);
        for (const linkId of linkIds) assert.match(linkId, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      });

      it('has an example response that conforms', () => {
        const example = readProfileFiles('examples').find((f) => f.name === `examples/${id}.response.example.json`);
        assert.ok(example, 'example missing');
        assert.deepEqual(messages(readQuestionnaire(id), example.resource as QuestionnaireResponse), []);
      });
    });
  }

  describe('derm-intake', () => {
    it('reaches every question when the triggering answers are given', () => {
      const { questionnaire, response } = fill('derm-intake', INTAKE_ALL_BRANCHES, { groupInstances: { 'photo-set': 2 } });
      assert.deepEqual(messages(questionnaire, response), []);
      const questions = allItems(questionnaire.item).filter((i) => i.type !== 'group' && i.type !== 'display');
      const answered = new Set(Object.keys(getAllQuestionnaireAnswers(response)));
      assert.deepEqual(questions.map((q) => q.linkId).filter((l) => !answered.has(l)), []);
    });

    it('keeps the form short: a rash concern skips the lesion questions and red-flag follow-ups', () => {
      const { response } = fill('derm-intake', { ...BASELINE, 'concern-type': coding('derm-concern-type', 'rash') });
      assert.equal(findItem(response.item, 'lesion'), undefined);
      assert.equal(findItem(response.item, 'rf-mucosal-sores'), undefined);
    });

    it('requires the largest diameter for a spot or mole, and says so', () => {
      const { questionnaire, response } = fill('derm-intake', { ...BASELINE, 'lesion-diameter-mm': [] });
      assert.deepEqual(messages(questionnaire, response), [
        'QuestionnaireResponse.item[3].item[2]: Question \'lesion-diameter-mm\' ("Its largest width in millimetres (measure with a ruler)") is required but has no answer',
      ]);
    });

    it('rejects a diameter given as text', () => {
      const { questionnaire, response } = fill('derm-intake', { ...BASELINE, 'lesion-diameter-mm': [{ valueString: '8 mm' }] });
      assert.match(messages(questionnaire, response)[0], /is of type 'decimal' and takes valueDecimal, but the answer has valueString/);
    });

    it('rejects answers to a red-flag follow-up whose trigger was answered no', () => {
      const { questionnaire, response } = fill('derm-intake');
      const redFlags = findItem(response.item, 'red-flags');
      redFlags?.item?.push({ linkId: 'rf-mucosal-sores', answer: yes });
      assert.match(messages(questionnaire, response).join('\n'), /'rf-mucosal-sores' .* is disabled by its enableWhen conditions/);
    });

    it('rejects a photo set with fewer than three photos', () => {
      const { questionnaire, response } = fill('derm-intake', { ...BASELINE, 'photo-close-up': twoCloseUps.slice(0, 1), 'photo-dermoscopic': [] });
      assert.match(messages(questionnaire, response).join('\n'), /at least 3 photos per body site/);
    });

    it('rejects a GIF photo and a body site outside the value set', () => {
      const gif = fill('derm-intake', { ...BASELINE, 'photo-overview': [{ valueAttachment: { contentType: 'image/gif', url: 'Binary/x' } }] });
      assert.match(messages(gif.questionnaire, gif.response)[0], /contentType 'image\/gif'/);
      const site = fill('derm-intake', { ...BASELINE, 'photo-body-site': [{ valueCoding: { system: 'http://snomed.info/sct', code: '80891009' } }] });
      assert.match(messages(site.questionnaire, site.response)[0], /not in value set .*derm-body-site/);
    });

    it('rejects a response without consent', () => {
      const { questionnaire, response } = fill('derm-intake', { ...BASELINE, 'consent-store-and-forward': [{ valueBoolean: false }] });
      assert.match(messages(questionnaire, response)[0], /only review your case with your consent/);
    });

    it('carries every input of every triage rule, with the type the rule reads', () => {
      const items = new Map(allItems(readQuestionnaire('derm-intake').item).map((i) => [i.linkId, i]));
      for (const { rule, inputs } of INTAKE_TRIAGE_INPUTS) {
        for (const [linkId, type] of Object.entries(inputs)) {
          assert.equal(items.get(linkId)?.type, type, `${rule}: ${linkId}`);
        }
      }
    });

    it('lets the NICE 7-point score be computed from the example answers alone (score 6, P1)', () => {
      const example = readProfileFiles('examples').find((f) => f.name === 'examples/derm-intake.response.example.json');
      const answers = getAllQuestionnaireAnswers(example?.resource as QuestionnaireResponse);
      const isYes = (linkId: string): boolean => answers[linkId]?.[0]?.valueBoolean === true;
      const major = ['lesion-change-size', 'lesion-shape-irregular', 'lesion-colour-irregular'].filter(isYes).length * 2;
      const minor = ['lesion-inflamed', 'lesion-oozing', 'lesion-sensation-change'].filter(isYes).length;
      const diameter = (answers['lesion-diameter-mm']?.[0]?.valueDecimal ?? 0) >= 7 ? 1 : 0;
      assert.equal(major + minor + diameter, 6);
    });
  });

  describe('derm-econsult', () => {
    it('rejects a request without the patient\'s consent to an interprofessional consult', () => {
      const { questionnaire, response } = fill('derm-econsult', { ...BASELINE, 'consent-interprofessional': [{ valueBoolean: false }] });
      assert.match(messages(questionnaire, response)[0], /needs documented patient consent/);
    });

    it('does not offer stat urgency (emergencies do not belong in an e-consult)', () => {
      const { questionnaire, response } = fill('derm-econsult', { ...BASELINE, 'pcp-urgency': [{ valueCoding: { system: 'http://hl7.org/fhir/request-priority', code: 'stat' } }] });
      assert.match(messages(questionnaire, response)[0], /not one of its answer options/);
    });
  });

  describe('derm-review', () => {
    it('asks for a prescription only when the disposition is prescribe', () => {
      const treat = fill('derm-review', { ...BASELINE, disposition: coding('derm-review-disposition', 'treat') });
      assert.equal(findItem(treat.response.item, 'medication'), undefined);
      const tacrolimus = [{ valueCoding: { system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '284520' } }];
      const complete = fill('derm-review', { ...BASELINE, disposition: coding('derm-review-disposition', 'prescribe'), 'medication-code': tacrolimus });
      assert.deepEqual(messages(complete.questionnaire, complete.response), []);
      const prescribe = fill('derm-review', {
        ...BASELINE,
        disposition: coding('derm-review-disposition', 'prescribe'),
        'medication-code': tacrolimus,
        'medication-sig': [],
      });
      assert.match(messages(prescribe.questionnaire, prescribe.response)[0], /'medication-sig' .* is required but has no answer/);
    });

    it('accepts only RxNorm codings as the medication', () => {
      const { questionnaire, response } = fill('derm-review', {
        ...BASELINE,
        disposition: coding('derm-review-disposition', 'prescribe'),
        'medication-code': [{ valueCoding: { system: 'http://snomed.info/sct', code: '386963006' } }],
      });
      assert.match(messages(questionnaire, response)[0], /not in value set .*derm-rxnorm-medication/);
    });

    it('requires the question and its recipient when the disposition is ask-question', () => {
      const { questionnaire, response } = fill('derm-review', {
        ...BASELINE,
        disposition: coding('derm-review-disposition', 'ask-question'),
        'question-text': [],
      });
      assert.match(messages(questionnaire, response).join('\n'), /'question-text' .* is required/);
      assert.ok(findItem(response.item, 'question-recipient'));
    });

    it('requires a referral priority for in-person referral and biopsy', () => {
      for (const disposition of ['refer-in-person', 'biopsy']) {
        const { questionnaire, response } = fill('derm-review', { ...BASELINE, disposition: coding('derm-review-disposition', disposition), 'referral-priority': [] });
        assert.match(messages(questionnaire, response).join('\n'), /'referral-priority' .* is required/);
      }
    });
  });
});
