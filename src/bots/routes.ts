import express from 'express';
import type { RequestHandler, Router } from 'express';
import type { AccessContext } from '../auth/access-context';
import type { Authorize } from '../fhir/access/access-scoped-repository';
import { problem } from '../http/problem';
import type { BotDispatcher } from './bot-dispatcher';

/**
 * `/admin/dead-letters`: bot runs that failed every attempt, for an operator to list and replay;
 * `/admin/bot-runs/retrying`: runs that failed and wait for their next attempt;
 * `/admin/bot-runs/queue`: how far behind the bots are (queued runs per bot, unmatched changes).
 * Wiring only. Admin means a system-level grant that may update Bots (not a patient token).
 */
export function createBotAdminRoutes(dispatcher: BotDispatcher, bearer: RequestHandler, authorize: Authorize): Router {
  const r = express.Router();
  r.use(bearer);
  r.use((_req, res, next) => {
    const access = res.locals.access as AccessContext;
    const decision = authorize(access, 'Bot', 'u');
    if (!decision.allowed || access.patientId || decision.compartment || decision.filters) {
      problem(res, 403, 'forbidden', 'Dead letters need a system-level grant to update Bots');
      return;
    }
    next();
  });
  r.get('/dead-letters', (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number(req.query._count ?? 100) || 100));
    res.json({ deadLetters: dispatcher.listDeadLetters(limit) });
  });
  r.get('/bot-runs/retrying', (req, res) => {
    const limit = Math.min(1000, Math.max(1, Number(req.query._count ?? 100) || 100));
    res.json({ retrying: dispatcher.listRetrying(limit) });
  });
  r.get('/bot-runs/queue', (_req, res) => {
    res.json(dispatcher.queue());
  });
  r.post('/dead-letters/:id/replay', async (req, res) => {
    const id = Number(req.params.id);
    const row = Number.isInteger(id) ? await dispatcher.replay(id) : undefined;
    if (!row) {
      problem(res, 404, 'not-found', `No dead letter ${req.params.id}`);
      return;
    }
    res.status(202).json(row);
  });
  return r;
}
