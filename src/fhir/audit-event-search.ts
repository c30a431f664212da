import { badRequest, forbidden, OperationOutcomeError } from '@medplum/core';
import type { Request, Response } from 'express';
import type { AuditLog } from '../audit/audit-log';
import type { AccessContext } from '../auth/access-context';
import type { Authorize } from './access/access-scoped-repository';
import { FHIR_JSON } from './outcomes';

/**
 * `GET /fhir/R4/AuditEvent`: the audit trail, for holders of an AuditEvent search scope that is
 * not limited to a patient (a patient-scoped token may not read who else looked at the record).
 */
export function auditEventSearch(audit: AuditLog, authorize: Authorize) {
  return (req: Request, res: Response): void => {
    const access = res.locals.access as AccessContext;
    const decision = authorize(access, 'AuditEvent', 's');
    if (!decision.allowed || decision.compartment) {
      throw new OperationOutcomeError(forbidden);
    }
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    const date = str(req.query.date);
    const count = str(req.query._count) === undefined ? undefined : Number(req.query._count);
    if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
      throw new OperationOutcomeError(badRequest('_count must be a whole number of 0 or more', '_count'));
    }
    const bundle = audit.search({
      patient: str(req.query.patient) ?? str(req.query.entity),
      agent: str(req.query.agent),
      since: date?.replace(/^ge/, ''),
      count,
    });
    res.status(200).type(FHIR_JSON).send(JSON.stringify(bundle));
  };
}
