/** Worker thread of PreparePool: validates and prepares resources for the bulk write path. */
import type { Resource } from '@medplum/fhirtypes';
import { parentPort, workerData } from 'node:worker_threads';
import { createResourceValidator, releaseCoreDefinitions, type ResourceValidatorOptions } from '../validation';
import { prepareResource } from './bulk-prepare';

const { validator: options, fhirBase } = workerData as { validator: ResourceValidatorOptions; fhirBase: string };
const validator = createResourceValidator(options);
// Each worker has its own heap: without this, each would keep ~35 MB of start-up bundles.
releaseCoreDefinitions();

parentPort?.on('message', ({ id, json }: { id: number; json: string }) => {
  const resources = JSON.parse(json) as (Resource & { id: string })[];
  const prepared = resources.map((r) => prepareResource(r, (x) => validator.validate(x), fhirBase));
  // The stored JSON goes as plain strings beside the rest: escaping it inside another JSON text
  // (and unescaping it on the writer thread) would cost more than the copy.
  const contents = prepared.map((p) => (p.ok ? p.content : ''));
  parentPort?.postMessage({ id, json: JSON.stringify(prepared.map((p) => (p.ok ? { ...p, content: '' } : p))), contents });
});
