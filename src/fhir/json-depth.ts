import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { RequestHandler } from 'express';

/**
 * Deepest JSON nesting accepted. Real FHIR resources stay far below it (a QuestionnaireResponse
 * with nested groups reaches ~30); a body nested thousands deep is an attack on everything that
 * walks it recursively (validation built a multi-hundred-MB error message from one).
 */
export const MAX_JSON_DEPTH = 128;

/** Refuses a parsed JSON body nested deeper than MAX_JSON_DEPTH; iterative, so it cannot overflow itself. */
export function limitJsonDepth(maxDepth = MAX_JSON_DEPTH): RequestHandler {
  return (req, _res, next) => {
    if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) && depthExceeds(req.body, maxDepth)) {
      next(new OperationOutcomeError(badRequest(`JSON body is nested deeper than ${maxDepth} levels`)));
      return;
    }
    next();
  };
}

function depthExceeds(root: object, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (depth > maxDepth) {
      return true;
    }
    for (const child of Object.values(value as object)) {
      if (child && typeof child === 'object') {
        stack.push([child, depth + 1]);
      }
    }
  }
  return false;
}
