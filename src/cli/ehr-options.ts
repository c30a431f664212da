import type { Command } from 'commander';

/** The EHR connection flags (each falls back to a `DERMBRIDGE_EHR_*` variable; see docs/deployment.md). */
export function withEhrOptions(command: Command): Command {
  return command
    .option('--ehr-url <url>', 'EHR FHIR base URL (DERMBRIDGE_EHR_FHIR_URL)')
    .option('--ehr-name <name>', 'stable short name of the EHR, keys checkpoints (DERMBRIDGE_EHR_NAME; default: host of the URL)')
    .option('--ehr-client-id <id>', 'our client id registered at the EHR (DERMBRIDGE_EHR_CLIENT_ID)')
    .option('--mrn-system <uri>', "the EHR's MRN identifier system (DERMBRIDGE_EHR_MRN_SYSTEM)")
    .option('--scope <scopes>', 'scopes to request (DERMBRIDGE_EHR_SCOPE)')
    .option('--alg <alg>', 'RS384 or ES384 (DERMBRIDGE_EHR_ALG; default ES384)')
    .option('--token-url <url>', 'EHR token endpoint; default: SMART discovery (DERMBRIDGE_EHR_TOKEN_URL)')
    .option('--query <params>', 'search parameters selecting e-consult ServiceRequests (DERMBRIDGE_EHR_SERVICEREQUEST_QUERY)');
}
