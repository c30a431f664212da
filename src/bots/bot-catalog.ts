import type { BotEvent, MedplumClient } from '@medplum/core';
import { handler as disposition } from '../../bots/disposition';
import { handler as photoQuality } from '../../bots/photo-quality';
import { handler as slaEscalation } from '../../bots/sla-escalation';
import { handler as triage } from '../../bots/triage';

export type BotHandler = (medplum: MedplumClient, event: BotEvent<any>) => Promise<unknown>;

/** One subscription of a bot: FHIR search criteria and, optionally, the interactions it wants. */
export interface BotTrigger {
  readonly criteria: string;
  /** Medplum's subscription-supported-interaction; all of create/update when absent. */
  readonly interaction?: 'create' | 'update' | 'delete';
}

export interface BotDefinition {
  /** Stable name: the Bot's identifier value and its module `bots/<name>.ts`. */
  readonly name: string;
  readonly description: string;
  readonly triggers: readonly BotTrigger[];
  /** Scheduled bots: run every `everyMinutes` (Medplum: Bot cronString). */
  readonly everyMinutes?: number;
  /**
   * The embedded dispatcher runs this bot's queued runs ahead of the others': a case's triage
   * decides how soon a dermatologist sees it, photo-quality feedback can wait a moment.
   */
  readonly runsFirst?: boolean;
}

export const BOT_IDENTIFIER_SYSTEM = 'https://dermbridge.example.org/fhir/sid/bot';

/**
 * The bots, as deployment data: the embedded server seeds a Bot and its Subscriptions from each
 * entry, and `bots/medplum.config.json` is checked against this list.
 */
export const BOT_DEFINITIONS: readonly BotDefinition[] = [
  {
    name: 'triage',
    description: 'Applies the triage rules to a case: priority, due date, RiskAssessment, P0 emergency advice.',
    triggers: [{ criteria: 'QuestionnaireResponse?status=completed,amended' }, { criteria: 'Media' }, { criteria: 'ServiceRequest' }],
    runsFirst: true,
  },
  {
    name: 'photo-quality',
    description: 'Checks a case photos against the standards; asks the patient to retake, holds and resumes the Task.',
    triggers: [{ criteria: 'Media' }],
  },
  {
    name: 'disposition',
    description: 'Records a completed dermatologist review: report, prescriptions, follow-up, referral, messages, Provenance, Task completed.',
    triggers: [{ criteria: 'QuestionnaireResponse?status=completed' }],
  },
  {
    name: 'sla-escalation',
    description: 'Escalates e-consult Tasks past their due date: priority up, a Flag.',
    triggers: [],
    everyMinutes: 5,
  },
];

/**
 * Handler code by bot name. Code, not state: every process running this build has the same map.
 * Tests may add entries (e.g. a bot that always throws) before starting an app.
 */
export const BOT_HANDLERS = new Map<string, BotHandler>([
  ['triage', triage],
  ['photo-quality', photoQuality],
  ['disposition', disposition],
  ['sla-escalation', slaEscalation],
]);
