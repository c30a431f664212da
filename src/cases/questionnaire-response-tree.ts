import type {
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  QuestionnaireResponseItem,
  QuestionnaireResponseItemAnswer,
} from '@medplum/fhirtypes';

/**
 * A QuestionnaireResponse item placed in its tree, matched to the Questionnaire item it answers.
 * enableWhen and required checks need to look up and down that tree (answers in the same
 * repeating-group instance win), which the flat FHIR JSON does not offer.
 */
export interface ResponseNode {
  readonly linkId: string;
  /** The Questionnaire item this answers; undefined for the root and for unknown linkIds. */
  readonly definition?: QuestionnaireItem;
  /** The response item; undefined for the root (the QuestionnaireResponse itself). */
  readonly item?: QuestionnaireResponseItem;
  readonly parent?: ResponseNode;
  readonly children: ResponseNode[];
  /** FHIRPath to this item, e.g. `QuestionnaireResponse.item[2].item[0]`. */
  readonly path: string;
}

export const ROOT_PATH = 'QuestionnaireResponse';

/** Builds the response tree. Children of a question item hang under its answers (`answer[i].item`). */
export function buildResponseTree(questionnaire: Questionnaire, response: QuestionnaireResponse): ResponseNode {
  const root: ResponseNode = { linkId: '', children: [], path: ROOT_PATH };
  addChildren(root, questionnaire.item ?? [], response.item ?? [], ROOT_PATH);
  return root;
}

function addChildren(
  parent: ResponseNode,
  definitions: readonly QuestionnaireItem[],
  items: readonly QuestionnaireResponseItem[],
  basePath: string
): void {
  items.forEach((item, index) => {
    const node: ResponseNode = {
      linkId: item.linkId,
      definition: definitions.find((d) => d.linkId === item.linkId),
      item,
      parent,
      children: [],
      path: `${basePath}.item[${index}]`,
    };
    parent.children.push(node);
    const childDefinitions = node.definition?.item ?? [];
    addChildren(node, childDefinitions, item.item ?? [], node.path);
    (item.answer ?? []).forEach((answer, answerIndex) => {
      addChildren(node, childDefinitions, answer.item ?? [], `${node.path}.answer[${answerIndex}]`);
    });
  });
}

/** All nodes below `node` (depth first), not including `node`. */
export function descendants(node: ResponseNode): ResponseNode[] {
  return node.children.flatMap((child) => [child, ...descendants(child)]);
}

export function answersOf(node: ResponseNode): QuestionnaireResponseItemAnswer[] {
  return node.item?.answer ?? [];
}

/** Every Questionnaire item by linkId, with its parent's linkId (undefined at top level). */
export function indexQuestionnaire(
  questionnaire: Questionnaire
): Map<string, { definition: QuestionnaireItem; parentLinkId?: string }> {
  const index = new Map<string, { definition: QuestionnaireItem; parentLinkId?: string }>();
  const walk = (items: readonly QuestionnaireItem[], parentLinkId?: string): void => {
    for (const definition of items) {
      index.set(definition.linkId, { definition, parentLinkId });
      walk(definition.item ?? [], definition.linkId);
    }
  };
  walk(questionnaire.item ?? []);
  return index;
}

/** Short label for messages: `'linkId' ("question text…")`. */
export function describeItem(linkId: string, definition?: QuestionnaireItem): string {
  const text = definition?.text;
  if (!text) {
    return `'${linkId}'`;
  }
  const short = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return `'${linkId}' ("${short}")`;
}
