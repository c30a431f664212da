import type { Coding, Questionnaire, QuestionnaireItem } from '@medplum/fhirtypes';
import { QUESTIONNAIRE_URLS } from '../cases/canonical-urls';
import type { IntakeDeps } from './intake-deps';
import { IntakeError } from './intake-error';

const FORMS: Record<string, string> = { 'derm-intake': QUESTIONNAIRE_URLS.intake, 'derm-econsult': QUESTIONNAIRE_URLS.econsult };

/**
 * `GET /intake/forms/:name`: the Questionnaire and the expansions of the ValueSets its choice items
 * use, so the page renders choices without a terminology server. Public: form definitions hold no PHI.
 */
export function formDefinition(deps: IntakeDeps, name: string): { questionnaire: Questionnaire; choices: Record<string, Coding[]> } {
  const questionnaire = deps.questionnaires.get(FORMS[name] ?? '');
  if (!questionnaire) {
    throw new IntakeError(404, 'form-not-found', `No form '${name}'; the forms are ${Object.keys(FORMS).join(', ')}.`);
  }
  const choices: Record<string, Coding[]> = {};
  const visit = (items: readonly QuestionnaireItem[]): void => {
    for (const item of items) {
      const vs = item.answerValueSet ? deps.valueSets.get(item.answerValueSet) : undefined;
      if (vs && item.answerValueSet) {
        choices[item.answerValueSet] = (vs.compose?.include ?? []).flatMap((inc) => (inc.concept ?? []).map((c) => ({ system: inc.system, code: c.code, display: c.display })));
      }
      visit(item.item ?? []);
    }
  };
  visit(questionnaire.item ?? []);
  return { questionnaire, choices };
}
