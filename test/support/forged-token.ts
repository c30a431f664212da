import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import type { TestServer } from './test-server';

/**
 * An access token an attacker made: every scope, signed with a key of their own. By default under
 * the server's own key id (only the signature can give it away); with `kid` under one the server
 * has never published.
 */
export async function forgedToken(server: TestServer, options: { kid?: string } = {}): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  const { keys } = server.dermbridge.auth;
  return new SignJWT({ client_id: 'attacker', scope: 'system/*.cruds', login_id: randomUUID() })
    .setProtectedHeader({ alg: options.kid ? 'ES256' : keys.alg, kid: options.kid ?? keys.kid, typ: 'at+jwt' })
    .setIssuer(server.baseUrl)
    .setAudience(`${server.baseUrl}fhir/R4`)
    .setSubject('ClientApplication/attacker')
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}
