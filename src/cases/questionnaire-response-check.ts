import { evalFhirPath, OperationOutcomeError, toTypedValue } from '@medplum/core';
import type {
  OperationOutcomeIssue,
  Questionnaire,
  QuestionnaireItem,
  QuestionnaireResponse,
  ValueSet,
} from '@medplum/fhirtypes';
import { checkAnswer, issue, ITEM_EXTENSIONS } from './questionnaire-answer-check';
import { EnableWhenEvaluator } from './questionnaire-enable-when';
import {
  answersOf,
  buildResponseTree,
  describeItem,
  indexQuestionnaire,
  ROOT_PATH,
  type ResponseNode,
} from './questionnaire-response-tree';

/**
 * Checks a QuestionnaireResponse against its Questionnaire: the part of conformance that
 * `validateResource` cannot see. @medplum/core offers answer getters (getQuestionnaireAnswers)
 * but no such check, and @medplum/react's QuestionnaireForm enforces it only in the browser, so
 * the server (intake API, tests) needs its own. Covers, per R4 Questionnaire/QuestionnaireResponse:
 * - every response linkId exists in the Questionnaire, at the same place in the item tree;
 * - required items are answered (only for completed/amended responses: in-progress may be partial);
 * - repeats, and SDC minOccurs/maxOccurs;
 * - enableWhen (nested, per repeating-group instance): disabled items must carry no answers;
 * - answer value[x] matches the item type; choice answers are among answerOption or in a known
 *   answerValueSet; minValue/maxValue, maxLength, attachment mimeType/maxSize;
 * - SDC questionnaire-constraint invariants (FHIRPath) on items.
 */
export interface QuestionnaireResponseCheckOptions {
  /** ValueSets by canonical URL, to check choice answers bound by answerValueSet. Unknown ones are not checked. */
  readonly valueSets?: ReadonlyMap<string, ValueSet>;
  /** Enforce required items. Default: true for status completed/amended, false otherwise. */
  readonly requireComplete?: boolean;
}

/** Returns every problem found (empty when the response conforms). */
export function checkQuestionnaireResponse(
  questionnaire: Questionnaire,
  response: QuestionnaireResponse,
  options: QuestionnaireResponseCheckOptions = {}
): OperationOutcomeIssue[] {
  const checker = new ResponseChecker(questionnaire, response, options);
  return checker.run();
}

/** Throws an OperationOutcomeError listing every problem, if there is any. */
export function assertQuestionnaireResponse(
  questionnaire: Questionnaire,
  response: QuestionnaireResponse,
  options: QuestionnaireResponseCheckOptions = {}
): void {
  const issues = checkQuestionnaireResponse(questionnaire, response, options);
  if (issues.length > 0) {
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
  }
}

class ResponseChecker {
  private readonly issues: OperationOutcomeIssue[] = [];
  private readonly enableWhen = new EnableWhenEvaluator();
  private readonly requireComplete: boolean;
  private readonly valueSets: ReadonlyMap<string, ValueSet>;

  constructor(
    private readonly questionnaire: Questionnaire,
    private readonly response: QuestionnaireResponse,
    options: QuestionnaireResponseCheckOptions
  ) {
    this.requireComplete = options.requireComplete ?? ['completed', 'amended'].includes(response.status);
    this.valueSets = options.valueSets ?? new Map();
  }

  run(): OperationOutcomeIssue[] {
    this.checkCanonical();
    const root = buildResponseTree(this.questionnaire, this.response);
    this.reportUnknownItems(root);
    this.checkLevel(this.questionnaire.item ?? [], root, ROOT_PATH);
    return this.issues;
  }

  private checkCanonical(): void {
    const [url, version] = (this.response.questionnaire ?? '').split('|');
    if (url !== this.questionnaire.url) {
      this.issues.push(
        issue(
          'invalid',
          `QuestionnaireResponse.questionnaire is '${this.response.questionnaire ?? '(missing)'}', expected '${this.questionnaire.url}'`,
          'QuestionnaireResponse.questionnaire'
        )
      );
    } else if (version && this.questionnaire.version && version !== this.questionnaire.version) {
      this.issues.push(
        issue(
          'invalid',
          `QuestionnaireResponse answers version ${version} of ${url}, but version ${this.questionnaire.version} was supplied`,
          'QuestionnaireResponse.questionnaire'
        )
      );
    }
  }

  private reportUnknownItems(node: ResponseNode): void {
    const index = indexQuestionnaire(this.questionnaire);
    const visit = (n: ResponseNode): void => {
      for (const child of n.children) {
        if (!child.definition) {
          const known = index.get(child.linkId);
          const where = known?.parentLinkId ? `under '${known.parentLinkId}'` : 'at the top level';
          this.issues.push(
            issue(
              'structure',
              known
                ? `Item '${child.linkId}' is not allowed here; the Questionnaire defines it ${where}`
                : `Unknown linkId '${child.linkId}': not defined in ${this.questionnaire.url}`,
              `${child.path}.linkId`
            )
          );
          continue;
        }
        visit(child);
      }
    };
    visit(node);
  }

  /** Checks the items `definitions` against the children of `container` (a group instance or the root). */
  private checkLevel(definitions: readonly QuestionnaireItem[], container: ResponseNode, containerPath: string): void {
    for (const definition of definitions) {
      const instances = container.children.filter((c) => c.definition === definition);
      const label = describeItem(definition.linkId, definition);
      if (!this.enableWhen.isEnabledIn(definition, container)) {
        for (const node of instances.filter(hasContent)) {
          this.issues.push(
            issue('business-rule', `Item ${label} is disabled by its enableWhen conditions, so it must not be answered`, node.path)
          );
        }
        continue;
      }
      if (definition.type === 'group') {
        this.checkGroup(definition, instances, containerPath, label);
      } else if (definition.type === 'display') {
        instances.filter(hasContent).forEach((n) => this.issues.push(issue('structure', `Display item ${label} takes no answers`, n.path)));
      } else {
        this.checkQuestion(definition, instances, containerPath, label);
      }
      instances.forEach((node) => this.checkConstraints(definition, node));
    }
  }

  private checkGroup(definition: QuestionnaireItem, instances: ResponseNode[], containerPath: string, label: string): void {
    if (instances.length === 0) {
      if (definition.required && this.requireComplete) {
        this.issues.push(issue('required', `Group ${label} is required but missing`, containerPath));
      }
      return;
    }
    this.checkOccurrences(definition, instances.length, instances[0].path, label);
    for (const node of instances) {
      if (answersOf(node).length > 0) {
        this.issues.push(issue('structure', `Group ${label} cannot have answers, only items`, `${node.path}.answer`));
      }
      if (definition.required && this.requireComplete && !hasAnsweredDescendant(node)) {
        this.issues.push(issue('required', `Group ${label} is required but none of its items is answered`, node.path));
      }
      this.checkLevel(definition.item ?? [], node, node.path);
    }
  }

  private checkQuestion(definition: QuestionnaireItem, instances: ResponseNode[], containerPath: string, label: string): void {
    if (instances.length > 1) {
      this.issues.push(
        issue('structure', `Question ${label} appears ${instances.length} times; put repeated answers in one item`, instances[1].path)
      );
    }
    const answers = instances.flatMap(answersOf);
    if (answers.length === 0) {
      if (definition.required && this.requireComplete) {
        this.issues.push(issue('required', `Question ${label} is required but has no answer`, instances[0]?.path ?? containerPath));
      }
      return;
    }
    const node = instances[0];
    this.checkOccurrences(definition, answers.length, node.path, label);
    answers.forEach((answer, i) => {
      this.issues.push(...checkAnswer(answer, { definition, path: `${node.path}.answer[${i}]`, valueSets: this.valueSets }));
    });
    if (definition.item?.length) {
      this.checkLevel(definition.item, node, node.path); // children nested under the answers
    }
  }

  private checkOccurrences(definition: QuestionnaireItem, count: number, path: string, label: string): void {
    const what = definition.type === 'group' ? 'instances' : 'answers';
    if (!definition.repeats && count > 1) {
      this.issues.push(issue('structure', `Item ${label} does not repeat but has ${count} ${what}`, path));
      return;
    }
    const min = definition.extension?.find((e) => e.url === ITEM_EXTENSIONS.minOccurs)?.valueInteger;
    const max = definition.extension?.find((e) => e.url === ITEM_EXTENSIONS.maxOccurs)?.valueInteger;
    if (min !== undefined && count < min && this.requireComplete) {
      this.issues.push(issue('required', `Item ${label} needs at least ${min} ${what}, found ${count}`, path));
    }
    if (max !== undefined && count > max) {
      this.issues.push(issue('structure', `Item ${label} allows at most ${max} ${what}, found ${count}`, path));
    }
  }

  /** SDC questionnaire-constraint: `expression` is evaluated with the response item as context. */
  private checkConstraints(definition: QuestionnaireItem, node: ResponseNode): void {
    for (const ext of definition.extension?.filter((e) => e.url === ITEM_EXTENSIONS.constraint) ?? []) {
      const part = (name: string): string | undefined => {
        const sub = ext.extension?.find((e) => e.url === name);
        return sub?.valueString ?? sub?.valueCode ?? sub?.valueId;
      };
      const expression = part('expression');
      if (!expression || (part('severity') ?? 'error') !== 'error' || (!this.requireComplete && !hasContent(node))) {
        continue;
      }
      const result = evalFhirPath(expression, node.item, { '%resource': toTypedValue(this.response) });
      if (!(result.length === 1 && result[0] === true)) {
        const human = part('human') ?? `Constraint ${part('key') ?? ''} failed`;
        this.issues.push({ ...issue('invariant', `${human} (item '${definition.linkId}')`, node.path), id: part('key') });
      }
    }
  }
}

function hasContent(node: ResponseNode): boolean {
  return answersOf(node).length > 0 || node.children.some(hasContent);
}

function hasAnsweredDescendant(node: ResponseNode): boolean {
  return node.children.some((c) => answersOf(c).length > 0 || hasAnsweredDescendant(c));
}
