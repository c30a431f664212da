import type {
  Coding,
  Extension,
  OperationOutcomeIssue,
  QuestionnaireItem,
  QuestionnaireItemAnswerOption,
  QuestionnaireResponseItemAnswer,
  ValueSet,
} from '@medplum/fhirtypes';
import { codingsMatch } from './questionnaire-enable-when';
import { describeItem } from './questionnaire-response-tree';

/** SDC / core extensions on Questionnaire items that constrain answers. */
export const ITEM_EXTENSIONS = {
  minValue: 'http://hl7.org/fhir/StructureDefinition/minValue',
  maxValue: 'http://hl7.org/fhir/StructureDefinition/maxValue',
  mimeType: 'http://hl7.org/fhir/StructureDefinition/mimeType',
  maxSize: 'http://hl7.org/fhir/StructureDefinition/maxSize',
  minOccurs: 'http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs',
  maxOccurs: 'http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs',
  constraint: 'http://hl7.org/fhir/StructureDefinition/questionnaire-constraint',
} as const;

type AnswerKey = keyof QuestionnaireResponseItemAnswer & `value${string}`;

/** The answer value[x] each item type takes (R4 Questionnaire.item.type). */
const VALUE_KEY_BY_TYPE: Readonly<Record<string, readonly AnswerKey[]>> = {
  boolean: ['valueBoolean'],
  decimal: ['valueDecimal'],
  integer: ['valueInteger'],
  date: ['valueDate'],
  dateTime: ['valueDateTime'],
  time: ['valueTime'],
  string: ['valueString'],
  text: ['valueString'],
  url: ['valueUri'],
  choice: ['valueCoding'],
  'open-choice': ['valueCoding', 'valueString'],
  attachment: ['valueAttachment'],
  reference: ['valueReference'],
  quantity: ['valueQuantity'],
};

const JS_TYPE_BY_KEY: Partial<Record<AnswerKey, 'number' | 'boolean' | 'string' | 'object'>> = {
  valueBoolean: 'boolean',
  valueDecimal: 'number',
  valueInteger: 'number',
  valueDate: 'string',
  valueDateTime: 'string',
  valueTime: 'string',
  valueString: 'string',
  valueUri: 'string',
};

export interface AnswerContext {
  readonly definition: QuestionnaireItem;
  readonly path: string;
  readonly valueSets: ReadonlyMap<string, ValueSet>;
}

/** Checks one answer: value type for the item type, allowed options, and value limits. */
export function checkAnswer(answer: QuestionnaireResponseItemAnswer, ctx: AnswerContext): OperationOutcomeIssue[] {
  const label = describeItem(ctx.definition.linkId, ctx.definition);
  const present = (Object.keys(answer) as (keyof QuestionnaireResponseItemAnswer)[]).filter(
    (k): k is AnswerKey => k.startsWith('value') && answer[k] !== undefined
  );
  if (present.length !== 1) {
    const problem = present.length === 0 ? 'has no value' : `has ${present.length} values (${present.join(', ')})`;
    return [issue('structure', `An answer to ${label} ${problem}; exactly one value[x] is needed`, ctx.path)];
  }
  const key = present[0];
  const allowed = allowedKeys(ctx.definition);
  if (!allowed.includes(key)) {
    return [
      issue(
        'structure',
        `Item ${label} is of type '${ctx.definition.type}' and takes ${allowed.join(' or ')}, but the answer has ${key}`,
        `${ctx.path}.${key}`
      ),
    ];
  }
  const expectedJsType = JS_TYPE_BY_KEY[key];
  const value = answer[key];
  if (expectedJsType && typeof value !== expectedJsType) {
    return [issue('structure', `${key} of ${label} must be a JSON ${expectedJsType}`, `${ctx.path}.${key}`)];
  }
  if (key === 'valueInteger' && !Number.isInteger(value)) {
    return [issue('structure', `valueInteger of ${label} must be a whole number`, `${ctx.path}.${key}`)];
  }
  return [
    ...checkOptions(answer, key, ctx, label),
    ...checkLimits(answer, ctx, label),
    ...checkAttachment(answer, ctx, label),
  ];
}

function allowedKeys(definition: QuestionnaireItem): readonly AnswerKey[] {
  const byType = VALUE_KEY_BY_TYPE[definition.type] ?? [];
  // R4 answerOption may hold integer/date/time/string/Reference values instead of Codings.
  const optionKeys = (definition.answerOption ?? []).flatMap(
    (o) => Object.keys(o).filter((k) => k.startsWith('value')) as AnswerKey[]
  );
  return [...new Set([...byType, ...optionKeys])];
}

function checkOptions(
  answer: QuestionnaireResponseItemAnswer,
  key: AnswerKey,
  ctx: AnswerContext,
  label: string
): OperationOutcomeIssue[] {
  const { definition } = ctx;
  if (definition.type === 'open-choice' && key === 'valueString') {
    return []; // free text is the point of open-choice
  }
  if (definition.answerOption?.length) {
    if (definition.answerOption.some((option) => optionMatches(option, answer))) {
      return [];
    }
    return [issue('code-invalid', `The answer to ${label} (${showValue(answer)}) is not one of its answer options`, `${ctx.path}.${key}`)];
  }
  if (definition.answerValueSet && answer.valueCoding) {
    const valueSet = ctx.valueSets.get(definition.answerValueSet.split('|')[0]);
    if (valueSet && valueSetExcludes(valueSet, answer.valueCoding)) {
      return [
        issue(
          'code-invalid',
          `The answer to ${label} (${showValue(answer)}) is not in value set ${definition.answerValueSet}`,
          `${ctx.path}.valueCoding`
        ),
      ];
    }
  }
  return [];
}

function optionMatches(option: QuestionnaireItemAnswerOption, answer: QuestionnaireResponseItemAnswer): boolean {
  if (option.valueCoding) {
    return answer.valueCoding !== undefined && codingsMatch(option.valueCoding, answer.valueCoding);
  }
  if (option.valueReference) {
    return answer.valueReference?.reference === option.valueReference.reference;
  }
  const expected = option.valueString ?? option.valueInteger ?? option.valueDate ?? option.valueTime;
  return expected !== undefined && expected === (answer.valueString ?? answer.valueInteger ?? answer.valueDate ?? answer.valueTime);
}

/**
 * True only when the value set's compose provably excludes the coding: enumerated concepts, or a
 * whole code system. Filters and imported value sets cannot be expanded here, so they never exclude.
 */
function valueSetExcludes(valueSet: ValueSet, coding: Coding): boolean {
  const includes = valueSet.compose?.include ?? [];
  if (includes.some((inc) => inc.filter?.length || inc.valueSet?.length)) {
    return false;
  }
  const included = includes.some(
    (inc) => inc.system === coding.system && (!inc.concept || inc.concept.some((c) => c.code === coding.code))
  );
  return !included;
}

function checkLimits(answer: QuestionnaireResponseItemAnswer, ctx: AnswerContext, label: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const value = answer.valueDecimal ?? answer.valueInteger ?? answer.valueDate ?? answer.valueDateTime;
  const min = limit(ctx.definition.extension, ITEM_EXTENSIONS.minValue);
  const max = limit(ctx.definition.extension, ITEM_EXTENSIONS.maxValue);
  if (value !== undefined && min !== undefined && value < min) {
    issues.push(issue('value', `The answer to ${label} (${value}) is below the minimum ${min}`, ctx.path));
  }
  if (value !== undefined && max !== undefined && value > max) {
    issues.push(issue('value', `The answer to ${label} (${value}) is above the maximum ${max}`, ctx.path));
  }
  const maxLength = ctx.definition.maxLength;
  if (answer.valueString !== undefined && maxLength !== undefined && answer.valueString.length > maxLength) {
    issues.push(issue('value', `The answer to ${label} is longer than ${maxLength} characters`, ctx.path));
  }
  return issues;
}

function limit(extensions: Extension[] | undefined, url: string): number | string | undefined {
  const ext = extensions?.find((e) => e.url === url);
  return ext?.valueInteger ?? ext?.valueDecimal ?? ext?.valueDate ?? ext?.valueDateTime;
}

function checkAttachment(answer: QuestionnaireResponseItemAnswer, ctx: AnswerContext, label: string): OperationOutcomeIssue[] {
  const attachment = answer.valueAttachment;
  if (!attachment) {
    return [];
  }
  const issues: OperationOutcomeIssue[] = [];
  if (!attachment.url && !attachment.data) {
    issues.push(issue('required', `The attachment for ${label} has neither url nor data`, `${ctx.path}.valueAttachment`));
  }
  const mimeTypes = (ctx.definition.extension ?? []).filter((e) => e.url === ITEM_EXTENSIONS.mimeType).map((e) => e.valueCode);
  if (mimeTypes.length > 0 && !mimeTypes.includes(attachment.contentType)) {
    issues.push(
      issue(
        'value',
        `The attachment for ${label} has contentType '${attachment.contentType ?? '(none)'}'; allowed: ${mimeTypes.join(', ')}`,
        `${ctx.path}.valueAttachment.contentType`
      )
    );
  }
  const maxSize = ctx.definition.extension?.find((e) => e.url === ITEM_EXTENSIONS.maxSize)?.valueDecimal;
  const size = attachment.size ?? (attachment.data ? Math.floor((attachment.data.length * 3) / 4) : undefined);
  if (maxSize !== undefined && size !== undefined && size > maxSize) {
    issues.push(issue('value', `The attachment for ${label} is ${size} bytes; the limit is ${maxSize}`, `${ctx.path}.valueAttachment`));
  }
  return issues;
}

function showValue(answer: QuestionnaireResponseItemAnswer): string {
  const coding = answer.valueCoding;
  if (coding) {
    return `${coding.system ?? ''}|${coding.code ?? ''}`;
  }
  return JSON.stringify(answer.valueString ?? answer.valueInteger ?? answer.valueDate ?? answer.valueTime ?? '');
}

export function issue(code: OperationOutcomeIssue['code'], text: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, details: { text }, diagnostics: text, expression: [expression] };
}
