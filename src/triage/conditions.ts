/**
 * The small condition language the triage rules are written in. A rule is data: a clinician can
 * read `rules.ts` without reading this evaluator, and every leaf names the answer (linkId) it reads.
 */
export type Condition =
  /** A boolean answer is true. */
  | { readonly yes: string }
  /** A coded (or string) answer is one of the given codes. */
  | { readonly oneOf: readonly [linkId: string, codes: readonly string[]] }
  /** A numeric answer is >= the bound. */
  | { readonly atLeast: readonly [linkId: string, bound: number] }
  /** A numeric answer is > the bound. */
  | { readonly above: readonly [linkId: string, bound: number] }
  /** A numeric answer lies in [lo, hi]. */
  | { readonly between: readonly [linkId: string, lo: number, hi: number] }
  /** A date answer (birth date) is less than `years` before the evaluation date. */
  | { readonly ageUnder: readonly [linkId: string, years: number] }
  | { readonly all: readonly Condition[] }
  | { readonly any: readonly Condition[] }
  /** At least `atLeast` of the conditions hold (ABCDE feature count). */
  | { readonly countAtLeast: number; readonly of: readonly LabelledCondition[] }
  /** Weighted checklist (NICE 7-point): the points of the items that hold reach `atLeast`. */
  | { readonly scoreAtLeast: number; readonly items: readonly WeightedItem[] };

export interface LabelledCondition {
  readonly label: string;
  readonly when: Condition;
}

export interface WeightedItem extends LabelledCondition {
  readonly points: number;
}

export type AnswerValue = boolean | number | string;

/** The answers of a response, by linkId (first answer of each item; coded answers by code). */
export type Answers = ReadonlyMap<string, readonly AnswerValue[]>;

/** One answer that made a condition true, for the rationale. */
export interface Evidence {
  readonly linkId: string;
  readonly value: AnswerValue;
}

export interface Evaluation {
  readonly matched: boolean;
  readonly evidence: readonly Evidence[];
  /** Human-readable detail of scored or counted conditions (e.g. "score 3: ..."). */
  readonly details: readonly string[];
}

const NO: Evaluation = { matched: false, evidence: [], details: [] };

export function evaluate(condition: Condition, answers: Answers, asOf: Date): Evaluation {
  if ('yes' in condition) {
    return leaf(answers, condition.yes, (v) => v === true);
  }
  if ('oneOf' in condition) {
    const [linkId, codes] = condition.oneOf;
    return leaf(answers, linkId, (v) => typeof v === 'string' && codes.includes(v));
  }
  if ('atLeast' in condition) {
    const [linkId, bound] = condition.atLeast;
    return leaf(answers, linkId, (v) => typeof v === 'number' && v >= bound);
  }
  if ('above' in condition) {
    const [linkId, bound] = condition.above;
    return leaf(answers, linkId, (v) => typeof v === 'number' && v > bound);
  }
  if ('between' in condition) {
    const [linkId, lo, hi] = condition.between;
    return leaf(answers, linkId, (v) => typeof v === 'number' && v >= lo && v <= hi);
  }
  if ('ageUnder' in condition) {
    const [linkId, years] = condition.ageUnder;
    return leaf(answers, linkId, (v) => typeof v === 'string' && ageInYears(v, asOf) < years);
  }
  if ('all' in condition) {
    const parts = condition.all.map((c) => evaluate(c, answers, asOf));
    return parts.every((p) => p.matched) ? merge(parts) : NO;
  }
  if ('any' in condition) {
    const hits = condition.any.map((c) => evaluate(c, answers, asOf)).filter((p) => p.matched);
    return hits.length > 0 ? merge(hits) : NO;
  }
  if ('countAtLeast' in condition) {
    const hits = condition.of.map((c) => ({ label: c.label, result: evaluate(c.when, answers, asOf) })).filter((h) => h.result.matched);
    const detail = `${hits.length} of ${condition.of.length} features (>= ${condition.countAtLeast}): ${hits.map((h) => h.label).join(', ') || 'none'}`;
    return hits.length >= condition.countAtLeast ? { ...merge(hits.map((h) => h.result)), details: [detail] } : { ...NO, details: [detail] };
  }
  const hits = condition.items.map((i) => ({ item: i, result: evaluate(i.when, answers, asOf) })).filter((h) => h.result.matched);
  const score = hits.reduce((sum, h) => sum + h.item.points, 0);
  const detail = `score ${score} (>= ${condition.scoreAtLeast}): ${hits.map((h) => `${h.item.label} (${h.item.points})`).join(', ') || 'none'}`;
  return score >= condition.scoreAtLeast ? { ...merge(hits.map((h) => h.result)), details: [detail] } : { ...NO, details: [detail] };
}

/** Every linkId a condition reads (the rules' contract with the Questionnaire). */
export function linkIdsOf(condition: Condition): string[] {
  if ('yes' in condition) return [condition.yes];
  if ('oneOf' in condition) return [condition.oneOf[0]];
  if ('atLeast' in condition) return [condition.atLeast[0]];
  if ('above' in condition) return [condition.above[0]];
  if ('between' in condition) return [condition.between[0]];
  if ('ageUnder' in condition) return [condition.ageUnder[0]];
  if ('all' in condition) return condition.all.flatMap(linkIdsOf);
  if ('any' in condition) return condition.any.flatMap(linkIdsOf);
  if ('countAtLeast' in condition) return condition.of.flatMap((c) => linkIdsOf(c.when));
  return condition.items.flatMap((i) => linkIdsOf(i.when));
}

function leaf(answers: Answers, linkId: string, test: (v: AnswerValue) => boolean): Evaluation {
  const value = (answers.get(linkId) ?? []).find(test);
  return value === undefined ? NO : { matched: true, evidence: [{ linkId, value }], details: [] };
}

function merge(parts: readonly Evaluation[]): Evaluation {
  const seen = new Set<string>();
  const evidence: Evidence[] = [];
  for (const e of parts.flatMap((p) => p.evidence)) {
    const key = `${e.linkId}=${String(e.value)}`;
    if (!seen.has(key)) {
      seen.add(key);
      evidence.push(e);
    }
  }
  return { matched: true, evidence, details: parts.flatMap((p) => p.details) };
}

function ageInYears(birthDate: string, asOf: Date): number {
  const birth = new Date(`${birthDate.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(birth.getTime())) {
    return Number.POSITIVE_INFINITY;
  }
  let age = asOf.getUTCFullYear() - birth.getUTCFullYear();
  const beforeBirthday =
    asOf.getUTCMonth() < birth.getUTCMonth() || (asOf.getUTCMonth() === birth.getUTCMonth() && asOf.getUTCDate() < birth.getUTCDate());
  if (beforeBirthday) {
    age--;
  }
  return age;
}
