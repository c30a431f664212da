/**
 * What the granted scopes allow: SMART v2 (`user/Task.rus`) or v1 (`user/Task.write`) syntax,
 * because an EHR may grant v1 even when asked for v2. The app uses the token response's `scope`,
 * never what it asked for.
 */
const V1 = { read: 'rs', write: 'cud', '*': 'cruds' };

export function allows(grantedScope, resourceType, permission) {
  return String(grantedScope ?? '')
    .split(/\s+/)
    .some((scope) => {
      const m = /^(user|patient|system)\/(\*|[A-Za-z]+)\.([a-z*]+)(\?.*)?$/.exec(scope);
      if (!m || (m[2] !== '*' && m[2] !== resourceType)) return false;
      const perms = V1[m[3]] ?? m[3];
      return perms.includes(permission);
    });
}
