import type { QuestionnaireResponse, QuestionnaireResponseItem, QuestionnaireResponseItemAnswer } from '@medplum/fhirtypes';
import type { AnswerValue, Answers, Evidence } from './conditions';
import { evaluate } from './conditions';
import type { TriagePriority, TriageRule } from './rules';
import { ROUTINE_RULE, TRIAGE_RULES } from './rules';

export interface FiredRule {
  readonly id: string;
  readonly priority: TriagePriority;
  readonly title: string;
  readonly source: string;
  readonly evidence: readonly Evidence[];
  readonly details: readonly string[];
  readonly advice?: string;
}

export interface TriageResult {
  readonly priority: TriagePriority;
  /** Every rule that fired (P2 only when nothing else did), in rule order. */
  readonly fired: readonly FiredRule[];
  /** One line per rule evaluated, for RiskAssessment.note. */
  readonly notes: readonly string[];
}

const RANK: Record<TriagePriority, number> = { P0: 0, P1: 1, P2: 2 };

/**
 * Applies every rule to the answers. Pure: same answers and date, same result; `asOf` is the
 * response's authored time so re-running later cannot change a child's age and the result.
 */
export function triage(answers: Answers, asOf: Date, rules: readonly TriageRule[] = TRIAGE_RULES): TriageResult {
  const fired: FiredRule[] = [];
  const notes: string[] = [];
  for (const rule of rules) {
    const result = evaluate(rule.when, answers, asOf);
    const detail = result.details.length > 0 ? ` (${result.details.join('; ')})` : '';
    notes.push(`${rule.id}: ${result.matched ? 'fired' : 'not fired'}${detail}`);
    if (result.matched) {
      fired.push({ id: rule.id, priority: rule.priority, title: rule.title, source: rule.source, evidence: result.evidence, details: result.details, advice: rule.advice });
    }
  }
  if (fired.length === 0) {
    const evidence = ROUTINE_RULE_INPUTS.flatMap((linkId) => (answers.get(linkId) ?? []).map((value) => ({ linkId, value })));
    fired.push({ id: ROUTINE_RULE.id, priority: 'P2', title: ROUTINE_RULE.title, source: ROUTINE_RULE.source, evidence, details: [] });
    notes.push(`${ROUTINE_RULE.id}: fired (no P0/P1 rule fired)`);
  }
  const priority = fired.reduce<TriagePriority>((best, r) => (RANK[r.priority] < RANK[best] ? r.priority : best), 'P2');
  return { priority, fired, notes };
}

const ROUTINE_RULE_INPUTS = ['concern-type', 'concern-body-sites', 'history-skin-cancer', 'history-family-melanoma'];

/** "rule (source): evidence; ..." for every fired rule: the auditable rationale. */
export function rationale(result: TriageResult): string {
  return result.fired
    .map((r) => {
      const evidence = r.evidence.map((e) => `${e.linkId}=${String(e.value)}`).join(', ');
      const details = r.details.length > 0 ? ` ${r.details.join('; ')};` : '';
      return `${r.id} [${r.priority}] ${r.title}:${details} answers ${evidence || '(none)'}. Source: ${r.source}.`;
    })
    .join(' ');
}

/**
 * Flattens a QuestionnaireResponse into answers by linkId, through nested groups and answers'
 * child items. Coded answers become their code; repeated items collect every answer.
 */
export function answersFromResponse(response: QuestionnaireResponse): Map<string, AnswerValue[]> {
  const answers = new Map<string, AnswerValue[]>();
  const visit = (items: readonly QuestionnaireResponseItem[] | undefined): void => {
    for (const item of items ?? []) {
      for (const answer of item.answer ?? []) {
        const value = answerValue(answer);
        if (value !== undefined) {
          answers.set(item.linkId, [...(answers.get(item.linkId) ?? []), value]);
        }
        visit(answer.item);
      }
      visit(item.item);
    }
  };
  visit(response.item);
  return answers;
}

function answerValue(answer: QuestionnaireResponseItemAnswer): AnswerValue | undefined {
  return (
    answer.valueBoolean ??
    answer.valueDecimal ??
    answer.valueInteger ??
    answer.valueCoding?.code ??
    answer.valueDate ??
    answer.valueDateTime ??
    answer.valueString ??
    answer.valueQuantity?.value
  );
}
