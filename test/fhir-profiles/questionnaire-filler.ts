import type {
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
  ValueSet,
} from '@medplum/fhirtypes';
import { EnableWhenEvaluator } from '../../src/cases/questionnaire-enable-when';
import { buildResponseTree, descendants, type ResponseNode } from '../../src/cases/questionnaire-response-tree';

/**
 * Fills a Questionnaire programmatically, as a form renderer would: every enabled item gets an
 * answer of its type (the override for its linkId, else a plausible default), disabled items are
 * left out. Used to prove the forms are render-ready and to build test responses.
 */
export interface FillOptions {
  /** Answers by linkId; an empty array leaves the item unanswered. */
  readonly answers?: Readonly<Record<string, QuestionnaireResponseItemAnswer[]>>;
  /** How many instances of each repeating group to create (default 1). */
  readonly groupInstances?: Readonly<Record<string, number>>;
  readonly valueSets?: ReadonlyMap<string, ValueSet>;
  readonly subject?: string;
}

export function fillQuestionnaire(questionnaire: Questionnaire, options: FillOptions = {}): QuestionnaireResponse {
  const response: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    questionnaire: `${questionnaire.url}|${questionnaire.version}`,
    status: 'completed',
    subject: { reference: options.subject ?? 'Patient/example' },
    authored: '2025-01-15T10:00:00Z',
    item: (questionnaire.item ?? []).flatMap((item) => fillItem(item, options)),
  };
  pruneDisabled(questionnaire, response);
  return response;
}

function fillItem(definition: QuestionnaireItem, options: FillOptions): QuestionnaireResponseItem[] {
  if (definition.type === 'display') {
    return [];
  }
  if (definition.type === 'group') {
    const count = definition.repeats ? (options.groupInstances?.[definition.linkId] ?? 1) : 1;
    return Array.from({ length: count }, () => ({
      linkId: definition.linkId,
      item: (definition.item ?? []).flatMap((child) => fillItem(child, options)),
    }));
  }
  const answers = options.answers?.[definition.linkId] ?? defaultAnswers(definition, options);
  return answers.length > 0 ? [{ linkId: definition.linkId, answer: answers }] : [];
}

function defaultAnswers(definition: QuestionnaireItem, options: FillOptions): QuestionnaireResponseItemAnswer[] {
  const min = definition.extension?.find((e) => e.url.endsWith('/minValue'));
  switch (definition.type) {
    case 'boolean':
      return [{ valueBoolean: false }];
    case 'decimal':
      return [{ valueDecimal: Math.max(min?.valueDecimal ?? 0, 4.5) }];
    case 'integer':
      return [{ valueInteger: Math.max(min?.valueInteger ?? 0, 1) }];
    case 'date':
      return [{ valueDate: '1980-05-17' }];
    case 'dateTime':
      return [{ valueDateTime: '2025-01-15T10:00:00Z' }];
    case 'string':
    case 'text':
      return [{ valueString: `Example answer for ${definition.linkId}` }];
    case 'choice':
    case 'open-choice': {
      const option = definition.answerOption?.[0]?.valueCoding;
      const fromValueSet = options.valueSets?.get(definition.answerValueSet ?? '')?.compose?.include?.find((i) => i.concept?.length);
      const coding = option ?? (fromValueSet ? { system: fromValueSet.system, ...fromValueSet.concept?.[0] } : undefined);
      return coding ? [{ valueCoding: coding }] : [];
    }
    case 'attachment':
      return [{ valueAttachment: { contentType: 'image/png', url: `Binary/${definition.linkId}`, title: `${definition.linkId}.png` } }];
    default:
      return [];
  }
}

/** Removes disabled items until none is left (removing one can disable another). */
function pruneDisabled(questionnaire: Questionnaire, response: QuestionnaireResponse): void {
  for (;;) {
    const evaluator = new EnableWhenEvaluator();
    const disabled = descendants(buildResponseTree(questionnaire, response)).find((n) => !evaluator.isNodeEnabled(n));
    if (!disabled) {
      return;
    }
    removeNode(response, disabled);
  }
}

function removeNode(response: QuestionnaireResponse, node: ResponseNode): void {
  const parentItem = node.parent?.item;
  const lists = parentItem
    ? [parentItem.item, ...(parentItem.answer ?? []).map((a) => a.item)]
    : [response.item];
  for (const list of lists) {
    const index = list?.indexOf(node.item as QuestionnaireResponseItem) ?? -1;
    if (list && index >= 0) {
      list.splice(index, 1);
      return;
    }
  }
}
