import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/**
 * One debug line per request: method, path, status, duration and the acting client. Never the
 * query string (searches carry names and identifiers), headers (tokens) or bodies (PHI, photos).
 */
export function requestLog(logger: Logger): RequestHandler {
  if (!logger.isLevelEnabled('debug')) {
    // Production runs at info: no timer or 'finish' listener per request for a line never written.
    return (_req, _res, next) => next();
  }
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      logger.debug(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          clientId: res.locals.access?.clientId,
          subject: res.locals.access?.subject,
        },
        'request'
      );
    });
    next();
  };
}
