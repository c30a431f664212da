import type { Patient } from '@medplum/fhirtypes';
import { strict as assert } from 'node:assert';
import { useBotServer } from '../test/bots/support';
import { updateIfChanged } from './lib/fhir-writes';

describe('bots/lib/fhir-writes: version-checked updates', () => {
  const bed = useBotServer();

  it('refuses (412) an update computed from a version someone else has changed since, and keeps their change', async () => {
    const read = (await bed.http.create<Patient>({ resourceType: 'Patient', name: [{ family: 'Raced' }], gender: 'female' })) as Patient & { id: string };
    // Another run changes it after this run read it.
    const theirs = await bed.http.put(`Patient/${read.id}`, { ...read, active: true });
    assert.equal(theirs.status, 200);
    await assert.rejects(updateIfChanged(bed.medplum, read, { ...read, gender: 'other' }), /precondition|412|version/i);
    const stored = (await bed.http.get(`Patient/${read.id}`)).body as Patient;
    assert.equal(stored.active, true, 'their change is kept');
    assert.equal(stored.gender, 'female', 'the stale update was not applied');
    // Re-read (what the retried run does): the update goes through on top of their change.
    const updated = await updateIfChanged(bed.medplum, stored as Patient & { id: string }, { ...(stored as Patient & { id: string }), gender: 'other' });
    assert.equal(updated.gender, 'other');
    assert.equal(updated.active, true);
  });
});
