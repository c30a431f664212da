/**
 * The admin API needs an admin token: the `dermbridge/admin` scope, or a system scope over every
 * resource type (a client that may already read and write everything may also run sync).
 */
import type { RequestHandler } from 'express';
import type { AccessContext } from '../../auth/access-context';
import { parseResourceScope } from '../../auth/smart-scopes';
import { problem } from '../../http/problem';

export const ADMIN_SCOPE = 'dermbridge/admin';

export function isAdmin(access: AccessContext | undefined): boolean {
  return (
    access !== undefined &&
    access.scopes.some((s) => {
      if (s === ADMIN_SCOPE) {
        return true;
      }
      const parsed = parseResourceScope(s);
      return parsed?.context === 'system' && parsed.resourceType === '*' && ['c', 'r', 'u', 'd', 's'].every((i) => parsed.interactions.has(i as 'c')) && !parsed.query;
    })
  );
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  if (!isAdmin(res.locals.access as AccessContext | undefined)) {
    problem(res, 403, 'forbidden', `The admin API needs the ${ADMIN_SCOPE} scope (or system/*.cruds)`);
    return;
  }
  next();
};
