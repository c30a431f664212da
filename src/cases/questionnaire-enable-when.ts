import type {
  Coding,
  QuestionnaireItem,
  QuestionnaireItemEnableWhen,
  QuestionnaireResponseItemAnswer,
} from '@medplum/fhirtypes';
import { answersOf, descendants, type ResponseNode } from './questionnaire-response-tree';

/**
 * Evaluates Questionnaire.item.enableWhen against a response tree, per R4
 * (https://hl7.org/fhir/R4/questionnaire-definitions.html#Questionnaire.item.enableWhen):
 * - the referenced question's answers are looked up in the nearest enclosing group instance first,
 *   then further out (so each instance of a repeating group is judged by its own answers);
 * - a question that is itself disabled counts as unanswered;
 * - `exists` tests presence; other operators are true when at least one answer satisfies them
 *   and false when there is no answer;
 * - several conditions combine with enableBehavior (`all` when absent).
 */
export class EnableWhenEvaluator {
  private readonly nodeState = new Map<ResponseNode, boolean>();
  private readonly inProgress = new Set<ResponseNode>();

  /** Whether an item defined by `definition` and placed under `container` is enabled. */
  isEnabledIn(definition: QuestionnaireItem, container: ResponseNode): boolean {
    if (!this.isNodeEnabled(container)) {
      return false;
    }
    const conditions = definition.enableWhen ?? [];
    if (conditions.length === 0) {
      return true;
    }
    const results = conditions.map((condition) => this.conditionHolds(condition, container));
    return definition.enableBehavior === 'any' ? results.some(Boolean) : results.every(Boolean);
  }

  /** Whether a node present in the response is enabled (itself and all its ancestors). */
  isNodeEnabled(node: ResponseNode): boolean {
    if (!node.parent || !node.definition) {
      return true; // the root, or an unknown item (reported elsewhere)
    }
    const known = this.nodeState.get(node);
    if (known !== undefined) {
      return known;
    }
    if (this.inProgress.has(node)) {
      return true; // a cycle of enableWhen references; do not recurse forever
    }
    this.inProgress.add(node);
    const enabled = this.isEnabledIn(node.definition, node.parent);
    this.inProgress.delete(node);
    this.nodeState.set(node, enabled);
    return enabled;
  }

  private conditionHolds(condition: QuestionnaireItemEnableWhen, container: ResponseNode): boolean {
    const answers = this.answersInScope(condition.question, container);
    if (condition.operator === 'exists') {
      return (answers.length > 0) === (condition.answerBoolean === true);
    }
    return answers.some((answer) => compare(condition, answer));
  }

  /** Answers to `linkId` in the nearest scope that has that question, skipping disabled ones. */
  private answersInScope(linkId: string, container: ResponseNode): QuestionnaireResponseItemAnswer[] {
    for (let scope: ResponseNode | undefined = container; scope; scope = scope.parent) {
      const matches = descendants(scope).filter((n) => n.linkId === linkId);
      if (matches.length > 0) {
        return matches.filter((n) => this.isNodeEnabled(n)).flatMap(answersOf);
      }
    }
    return [];
  }
}

function compare(condition: QuestionnaireItemEnableWhen, answer: QuestionnaireResponseItemAnswer): boolean {
  const expected = expectedValue(condition);
  const actual = actualValue(answer);
  if (expected === undefined || actual === undefined) {
    return false;
  }
  if (isCoding(expected) || isCoding(actual)) {
    const equal = isCoding(expected) && isCoding(actual) && codingsMatch(expected, actual);
    return condition.operator === '=' ? equal : condition.operator === '!=' ? !equal : false;
  }
  if (typeof expected === 'object' || typeof actual === 'object') {
    // Quantity or Reference: only (in)equality is meaningful here.
    const equal = JSON.stringify(expected) === JSON.stringify(actual);
    return condition.operator === '=' ? equal : condition.operator === '!=' ? !equal : false;
  }
  switch (condition.operator) {
    case '=':
      return actual === expected;
    case '!=':
      return actual !== expected;
    case '>':
      return actual > expected;
    case '<':
      return actual < expected;
    case '>=':
      return actual >= expected;
    case '<=':
      return actual <= expected;
    default:
      return false;
  }
}

type Comparable = string | number | boolean | Coding | object;

function expectedValue(c: QuestionnaireItemEnableWhen): Comparable | undefined {
  return (
    c.answerBoolean ??
    c.answerDecimal ??
    c.answerInteger ??
    c.answerDate ??
    c.answerDateTime ??
    c.answerTime ??
    c.answerString ??
    c.answerCoding ??
    c.answerQuantity ??
    c.answerReference
  );
}

function actualValue(a: QuestionnaireResponseItemAnswer): Comparable | undefined {
  return (
    a.valueBoolean ??
    a.valueDecimal ??
    a.valueInteger ??
    a.valueDate ??
    a.valueDateTime ??
    a.valueTime ??
    a.valueString ??
    a.valueUri ??
    a.valueCoding ??
    a.valueQuantity ??
    a.valueReference
  );
}

function isCoding(value: Comparable): value is Coding {
  return typeof value === 'object' && value !== null && 'code' in value;
}

/** Codings match on code, and on system when the condition names one. */
export function codingsMatch(expected: Coding, actual: Coding): boolean {
  return expected.code === actual.code && (expected.system === undefined || expected.system === actual.system);
}
