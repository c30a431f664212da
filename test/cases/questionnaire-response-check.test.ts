import assert from 'node:assert/strict';
import { OperationOutcomeError } from '@medplum/core';
import type { Questionnaire, QuestionnaireResponse, QuestionnaireResponseItem, ValueSet } from '@medplum/fhirtypes';
import {
  assertQuestionnaireResponse,
  checkQuestionnaireResponse,
} from '../../src/cases/questionnaire-response-check';

const URL = 'https://example.org/Questionnaire/test';
const COLOURS = 'https://example.org/CodeSystem/colour';

/** A small form that exercises every rule the checker implements. */
const questionnaire: Questionnaire = {
  resourceType: 'Questionnaire',
  url: URL,
  version: '1',
  status: 'active',
  item: [
    { linkId: 'smoker', type: 'boolean', text: 'Do you smoke?', required: true },
    {
      linkId: 'packs',
      type: 'integer',
      text: 'Packs per day',
      required: true,
      enableWhen: [{ question: 'smoker', operator: '=', answerBoolean: true }],
      extension: [
        { url: 'http://hl7.org/fhir/StructureDefinition/minValue', valueInteger: 1 },
        { url: 'http://hl7.org/fhir/StructureDefinition/maxValue', valueInteger: 10 },
      ],
    },
    {
      linkId: 'heavy',
      type: 'boolean',
      text: 'Heavy smoker follow-up',
      enableWhen: [{ question: 'packs', operator: '>=', answerInteger: 2 }],
    },
    {
      linkId: 'colour',
      type: 'choice',
      text: 'Favourite colour',
      answerOption: [{ valueCoding: { system: COLOURS, code: 'red' } }, { valueCoding: { system: COLOURS, code: 'blue' } }],
    },
    { linkId: 'site', type: 'choice', text: 'Body site', answerValueSet: 'https://example.org/ValueSet/sites' },
    { linkId: 'note', type: 'string', text: 'Note', maxLength: 5 },
    {
      linkId: 'lesions',
      type: 'group',
      text: 'Lesions',
      repeats: true,
      required: true,
      item: [
        { linkId: 'lesion-bleeds', type: 'boolean', text: 'Bleeds?', required: true },
        {
          linkId: 'lesion-bleeds-how',
          type: 'string',
          text: 'How?',
          required: true,
          enableWhen: [{ question: 'lesion-bleeds', operator: '=', answerBoolean: true }],
        },
        {
          linkId: 'lesion-photo',
          type: 'attachment',
          text: 'Photo',
          repeats: true,
          extension: [
            { url: 'http://hl7.org/fhir/StructureDefinition/mimeType', valueCode: 'image/png' },
            { url: 'http://hl7.org/fhir/StructureDefinition/maxSize', valueDecimal: 10 },
            { url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs', valueInteger: 2 },
          ],
        },
      ],
    },
    {
      linkId: 'consent',
      type: 'boolean',
      text: 'Consent',
      required: true,
      extension: [
        {
          url: 'http://hl7.org/fhir/StructureDefinition/questionnaire-constraint',
          extension: [
            { url: 'key', valueId: 'consent-given' },
            { url: 'severity', valueCode: 'error' },
            { url: 'expression', valueString: 'answer.value = true' },
            { url: 'human', valueString: 'Consent must be given' },
          ],
        },
      ],
    },
  ],
};

const valueSets = new Map<string, ValueSet>([
  [
    'https://example.org/ValueSet/sites',
    {
      resourceType: 'ValueSet',
      status: 'active',
      url: 'https://example.org/ValueSet/sites',
      compose: { include: [{ system: 'http://snomed.info/sct', concept: [{ code: '66643007' }] }] },
    },
  ],
]);

const lesion = (bleeds: boolean, extra: QuestionnaireResponseItem[] = []): QuestionnaireResponseItem => ({
  linkId: 'lesions',
  item: [
    { linkId: 'lesion-bleeds', answer: [{ valueBoolean: bleeds }] },
    ...extra,
    {
      linkId: 'lesion-photo',
      answer: [{ valueAttachment: { contentType: 'image/png', url: 'Binary/1' } }, { valueAttachment: { contentType: 'image/png', url: 'Binary/2' } }],
    },
  ],
});

function response(items: QuestionnaireResponseItem[], status: QuestionnaireResponse['status'] = 'completed'): QuestionnaireResponse {
  return { resourceType: 'QuestionnaireResponse', questionnaire: `${URL}|1`, status, item: items };
}

function valid(): QuestionnaireResponseItem[] {
  return [
    { linkId: 'smoker', answer: [{ valueBoolean: true }] },
    { linkId: 'packs', answer: [{ valueInteger: 3 }] },
    { linkId: 'heavy', answer: [{ valueBoolean: false }] },
    { linkId: 'colour', answer: [{ valueCoding: { system: COLOURS, code: 'blue' } }] },
    { linkId: 'site', answer: [{ valueCoding: { system: 'http://snomed.info/sct', code: '66643007' } }] },
    lesion(false),
    lesion(true, [{ linkId: 'lesion-bleeds-how', answer: [{ valueString: 'by itself' }] }]),
    { linkId: 'consent', answer: [{ valueBoolean: true }] },
  ];
}

function problems(items: QuestionnaireResponseItem[], status?: QuestionnaireResponse['status']): string[] {
  return checkQuestionnaireResponse(questionnaire, response(items, status), { valueSets }).map(
    (i) => `${i.code} ${i.expression?.[0]}: ${i.diagnostics}`
  );
}

function replace(items: QuestionnaireResponseItem[], linkId: string, item: QuestionnaireResponseItem | undefined): QuestionnaireResponseItem[] {
  return items.flatMap((i) => (i.linkId === linkId ? (item ? [item] : []) : [i]));
}

describe('src/cases/questionnaire-response-check', () => {
  it('accepts a complete, consistent response', () => {
    assert.deepEqual(problems(valid()), []);
  });

  it('names a missing required answer with the item text and its path', () => {
    const out = problems(replace(valid(), 'smoker', undefined).filter((i) => i.linkId !== 'packs' && i.linkId !== 'heavy'));
    assert.deepEqual(out, ["required QuestionnaireResponse: Question 'smoker' (\"Do you smoke?\") is required but has no answer"]);
  });

  it('does not require answers in an in-progress response', () => {
    assert.deepEqual(problems([{ linkId: 'smoker', answer: [{ valueBoolean: false }] }], 'in-progress'), []);
  });

  it('reports a required group that is missing', () => {
    const out = problems(valid().filter((i) => i.linkId !== 'lesions'));
    assert.ok(out.some((p) => p.startsWith("required QuestionnaireResponse: Group 'lesions'")), out.join('\n'));
  });

  it('requires an enabled conditional question', () => {
    const out = problems(replace(valid(), 'packs', undefined).filter((i) => i.linkId !== 'heavy'));
    assert.deepEqual(out, ["required QuestionnaireResponse: Question 'packs' (\"Packs per day\") is required but has no answer"]);
  });

  it('rejects answers to an item its enableWhen disables', () => {
    const items = replace(valid(), 'smoker', { linkId: 'smoker', answer: [{ valueBoolean: false }] });
    const out = problems(items);
    assert.ok(out.includes("business-rule QuestionnaireResponse.item[1]: Item 'packs' (\"Packs per day\") is disabled by its enableWhen conditions, so it must not be answered"), out.join('\n'));
  });

  it('treats an answer to a disabled question as absent for later enableWhen (chained conditions)', () => {
    const items = replace(valid(), 'smoker', { linkId: 'smoker', answer: [{ valueBoolean: false }] });
    const out = problems(items);
    assert.ok(out.some((p) => p.includes("Item 'heavy'")), 'heavy depends on packs, which is disabled');
  });

  it('evaluates enableWhen inside each repeating group instance separately', () => {
    const wrongInstance = replace(valid(), 'lesions', undefined);
    wrongInstance.splice(5, 0, lesion(false, [{ linkId: 'lesion-bleeds-how', answer: [{ valueString: 'x' }] }]), lesion(true));
    const out = problems(wrongInstance);
    assert.ok(out.some((p) => p.startsWith('business-rule QuestionnaireResponse.item[5].item[1]')), out.join('\n'));
    assert.ok(out.includes("required QuestionnaireResponse.item[6]: Question 'lesion-bleeds-how' (\"How?\") is required but has no answer"), out.join('\n'));
  });

  it('rejects an answer of the wrong type and says which type the item takes', () => {
    const out = problems(replace(valid(), 'packs', { linkId: 'packs', answer: [{ valueString: '3' }] }));
    assert.deepEqual(out, [
      "structure QuestionnaireResponse.item[1].answer[0].valueString: Item 'packs' (\"Packs per day\") is of type 'integer' and takes valueInteger, but the answer has valueString",
    ]);
  });

  it('rejects a non-integer valueInteger and values outside minValue/maxValue', () => {
    assert.match(problems(replace(valid(), 'packs', { linkId: 'packs', answer: [{ valueInteger: 2.5 }] }))[0], /whole number/);
    assert.match(problems(replace(valid(), 'packs', { linkId: 'packs', answer: [{ valueInteger: 11 }] }))[0], /above the maximum 10/);
  });

  it('rejects a coding that is not among the answer options', () => {
    const out = problems(replace(valid(), 'colour', { linkId: 'colour', answer: [{ valueCoding: { system: COLOURS, code: 'green' } }] }));
    assert.deepEqual(out, [
      `code-invalid QuestionnaireResponse.item[3].answer[0].valueCoding: The answer to 'colour' ("Favourite colour") (${COLOURS}|green) is not one of its answer options`,
    ]);
  });

  it('rejects a coding outside a known answerValueSet', () => {
    const out = problems(replace(valid(), 'site', { linkId: 'site', answer: [{ valueCoding: { system: 'http://snomed.info/sct', code: '1' } }] }));
    assert.match(out[0], /^code-invalid .*is not in value set https:\/\/example.org\/ValueSet\/sites/);
  });

  it('rejects several answers to a non-repeating question, and text over maxLength', () => {
    const two = problems(replace(valid(), 'smoker', { linkId: 'smoker', answer: [{ valueBoolean: true }, { valueBoolean: false }] }));
    assert.ok(two.some((p) => p.includes('does not repeat but has 2 answers')), two.join('\n'));
    assert.match(problems([...valid(), { linkId: 'note', answer: [{ valueString: 'too long' }] }])[0], /longer than 5 characters/);
  });

  it('checks attachments: content type, size, content, minOccurs', () => {
    const photo = (valueAttachment: object): QuestionnaireResponseItem[] => {
      const items = valid();
      const second = { valueAttachment: { contentType: 'image/png', url: 'Binary/2' } };
      (items[5].item as QuestionnaireResponseItem[])[1] = { linkId: 'lesion-photo', answer: [{ valueAttachment }, second] };
      return items;
    };
    assert.match(problems(photo({ contentType: 'image/gif', url: 'Binary/1' }))[0], /contentType 'image\/gif'; allowed: image\/png/);
    assert.match(problems(photo({ contentType: 'image/png', data: 'AAAAAAAAAAAAAAAAAAAA' }))[0], /15 bytes; the limit is 10/);
    assert.match(problems(photo({ contentType: 'image/png' }))[0], /neither url nor data/);
    const one = valid();
    one[5] = lesion(false);
    (one[5].item as QuestionnaireResponseItem[])[1].answer?.pop();
    assert.deepEqual(problems(one), ["required QuestionnaireResponse.item[5].item[1]: Item 'lesion-photo' (\"Photo\") needs at least 2 answers, found 1"]);
  });

  it('evaluates questionnaire-constraint invariants', () => {
    const out = problems(replace(valid(), 'consent', { linkId: 'consent', answer: [{ valueBoolean: false }] }));
    assert.deepEqual(out, ["invariant QuestionnaireResponse.item[7]: Consent must be given (item 'consent')"]);
  });

  it('rejects unknown and misplaced linkIds', () => {
    const out = problems([...valid(), { linkId: 'shoe-size', answer: [{ valueInteger: 42 }] }, { linkId: 'lesion-bleeds', answer: [{ valueBoolean: true }] }]);
    assert.ok(out.includes(`structure QuestionnaireResponse.item[8].linkId: Unknown linkId 'shoe-size': not defined in ${URL}`), out.join('\n'));
    assert.ok(out.includes("structure QuestionnaireResponse.item[9].linkId: Item 'lesion-bleeds' is not allowed here; the Questionnaire defines it under 'lesions'"), out.join('\n'));
  });

  it('rejects a response to another Questionnaire or another version', () => {
    const other = checkQuestionnaireResponse(questionnaire, { ...response(valid()), questionnaire: 'https://example.org/Questionnaire/other' });
    assert.match(other[0].diagnostics ?? '', /expected 'https:\/\/example.org\/Questionnaire\/test'/);
    const version = checkQuestionnaireResponse(questionnaire, { ...response(valid()), questionnaire: `${URL}|2` }, { valueSets });
    assert.match(version[0].diagnostics ?? '', /version 2 .* version 1 was supplied/);
  });

  it('throws an OperationOutcomeError listing every problem from assertQuestionnaireResponse', () => {
    assert.doesNotThrow(() => assertQuestionnaireResponse(questionnaire, response(valid()), { valueSets }));
    assert.throws(
      () => assertQuestionnaireResponse(questionnaire, response([]), { valueSets }),
      (err: unknown) => err instanceof OperationOutcomeError && err.outcome.issue.length >= 3 && err.outcome.issue.every((i) => i.severity === 'error')
    );
  });
});
