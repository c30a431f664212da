/**
 * FHIR search over HTTP (http://hl7.org/fhir/R4/search.html): each parameter type, modifiers,
 * prefixes, chaining, includes, sorting, paging and totals, against a small known data set.
 */
import assert from 'node:assert/strict';
import type { Bundle, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { startTestServer, type TestServer } from '../support/test-server';
import { assertOutcome, fhirHttp, MRN, refsOf, resourcesOf, unique, type FhirHttp, type Stored } from '../support/fhir-http';

const LOINC = 'http://loinc.org';
const SET = 'urn:dermbridge:test:search-set';

describe('GET /fhir/R4/:type (search)', () => {
  let server: TestServer;
  let fhir: FhirHttp;
  const run = unique('run');
  /** Every Patient of the base data set carries this identifier, so a search can be confined to them. */
  const inSet = `identifier=${encodeURIComponent(`${SET}|${run}`)}`;
  let muller: Stored<Patient>;
  let mullins: Stored<Patient>;
  let smith: Stored<Patient>;
  let weightOfMuller: Stored<Observation>;
  let bmiOfMuller: Stored<Observation>;
  let weightOfMullins: Stored<Observation>;

  const ids = async (query: string): Promise<string[]> => refsOf(resourcesOf(await fhir.search(query), 'match'));
  const orderedIds = async (query: string): Promise<string[]> =>
    resourcesOf(await fhir.search(query), 'match').map((r) => `${r.resourceType}/${r.id}`);
  const ref = (r: Resource): string => `${r.resourceType}/${r.id}`;
  const observation = (subject: Patient, code: string, status: Observation['status']): Observation => ({
    resourceType: 'Observation',
    status,
    code: { coding: [{ system: LOINC, code }], text: code },
    subject: { reference: ref(subject) },
  });

  before(async () => {
    server = await startTestServer();
    fhir = fhirHttp(server.baseUrl, await server.adminToken());
    const setId = { system: SET, value: run };
    muller = await fhir.create<Patient>({
      resourceType: 'Patient',
      identifier: [setId, { system: MRN, value: `M-1-${run}` }],
      name: [{ family: 'Müller', given: ['Anna'] }],
      gender: 'female',
      birthDate: '1980-05-01',
    });
    mullins = await fhir.create<Patient>({
      resourceType: 'Patient',
      identifier: [setId, { system: MRN, value: `M-2-${run}` }],
      name: [{ family: 'Mullins', given: ['Bob'] }],
      gender: 'male',
      birthDate: '1990-01-01',
    });
    smith = await fhir.create<Patient>({
      resourceType: 'Patient',
      identifier: [setId, { value: `X-3-${run}` }],
      name: [{ family: 'Smith', given: ['Carol'] }],
    });
    weightOfMuller = await fhir.create(observation(muller, '29463-7', 'final'));
    bmiOfMuller = await fhir.create(observation(muller, '39156-5', 'preliminary'));
    weightOfMullins = await fhir.create(observation(mullins, '29463-7', 'final'));
  });

  after(async () => {
    await server.close();
  });

  describe('token parameters', () => {
    it('finds a Patient by identifier system|value', async () => {
      assert.deepEqual(await ids(`Patient?identifier=${encodeURIComponent(`${MRN}|M-1-${run}`)}`), [ref(muller)]);
    });

    it('finds a Patient by identifier value alone, whatever its system', async () => {
      assert.deepEqual(await ids(`Patient?identifier=M-2-${run}`), [ref(mullins)]);
      assert.deepEqual(await ids(`Patient?identifier=X-3-${run}`), [ref(smith)]);
    });

    it('finds by |value only identifiers that have no system', async () => {
      assert.deepEqual(await ids(`Patient?identifier=${encodeURIComponent(`|X-3-${run}`)}`), [ref(smith)]);
      assert.deepEqual(await ids(`Patient?identifier=${encodeURIComponent(`|M-1-${run}`)}`), []);
    });

    it('does not match a value under another system', async () => {
      assert.deepEqual(await ids(`Patient?identifier=${encodeURIComponent(`urn:other|M-1-${run}`)}`), []);
    });

    it('matches a code inside a CodeableConcept, with or without its system', async () => {
      const weights = [ref(weightOfMuller), ref(weightOfMullins)].sort();
      assert.deepEqual(await ids(`Observation?code=${encodeURIComponent(`${LOINC}|29463-7`)}`), weights);
      assert.deepEqual(await ids('Observation?code=29463-7'), weights);
      assert.deepEqual(await ids(`Observation?code=${encodeURIComponent('http://snomed.info/sct|29463-7')}`), []);
    });

    it('matches a plain code such as gender', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&gender=female`), [ref(muller)]);
    });
  });

  describe('string parameters', () => {
    it('matches a prefix ignoring case and accents ("mull" finds Müller and Mullins)', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&family=mull`), [ref(muller), ref(mullins)].sort());
      assert.deepEqual(await ids(`Patient?${inSet}&family=MULLER`), [ref(muller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&name=${encodeURIComponent('MÜLLER')}`), [ref(muller)]);
    });

    it('does not match text in the middle of a word without :contains', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&family=ller`), []);
    });

    it('matches text anywhere with :contains', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&family:contains=LLE`), [ref(muller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&family:contains=mit`), [ref(smith)]);
    });

    it('matches only the whole, case- and accent-exact string with :exact', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&family:exact=${encodeURIComponent('Müller')}`), [ref(muller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&family:exact=${encodeURIComponent('müller')}`), []);
      assert.deepEqual(await ids(`Patient?${inSet}&family:exact=Muller`), []);
      assert.deepEqual(await ids(`Patient?${inSet}&family:exact=Mull`), []);
    });

    it('matches a given name through the name parameter', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&name=carol`), [ref(smith)]);
    });
  });

  describe('date parameters', () => {
    it('applies the ge, lt, gt, le and eq prefixes to birthDate', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=ge1985-01-01`), [ref(mullins)]);
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=lt1985-01-01`), [ref(muller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=gt1990-01-01`), []);
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=le1990-01-01`), [ref(muller), ref(mullins)].sort());
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=eq1980-05-01`), [ref(muller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=1990-01-01`), [ref(mullins)]);
    });

    it('treats a partial date as the whole period it names', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=1980`), [ref(muller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=1980-05`), [ref(muller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=1980-06`), []);
    });

    it('combines two date conditions on one parameter as AND (a range)', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate=ge1979-01-01&birthdate=lt1981-01-01`), [ref(muller)]);
    });

    it('answers 400 to a value that is not a date', async () => {
      assertOutcome(await fhir.get(`Patient?birthdate=yesterday`), 400);
    });
  });

  describe('reference parameters', () => {
    it('finds Observations by subject=Patient/<id>', async () => {
      assert.deepEqual(await ids(`Observation?subject=Patient/${muller.id}`), [ref(weightOfMuller), ref(bmiOfMuller)].sort());
    });

    it('finds Observations by a bare id', async () => {
      assert.deepEqual(await ids(`Observation?subject=${muller.id}`), [ref(weightOfMuller), ref(bmiOfMuller)].sort());
      assert.deepEqual(await ids(`Observation?patient=${mullins.id}`), [ref(weightOfMullins)]);
    });

    it('finds Observations by an absolute reference to this server', async () => {
      const absolute = encodeURIComponent(`${server.baseUrl}fhir/R4/Patient/${mullins.id}`);
      assert.deepEqual(await ids(`Observation?subject=${absolute}`), [ref(weightOfMullins)]);
    });

    it('follows a chain: subject:Patient.identifier', async () => {
      const chained = `Observation?subject:Patient.identifier=${encodeURIComponent(`${MRN}|M-1-${run}`)}`;
      assert.deepEqual(await ids(chained), [ref(weightOfMuller), ref(bmiOfMuller)].sort());
    });

    it('follows a chain on a string parameter: patient.family', async () => {
      assert.deepEqual(await ids(`Observation?patient.family=mullins`), [ref(weightOfMullins)]);
    });
  });

  describe('modifiers and combinations', () => {
    it(':missing=true finds resources without the element and :missing=false those with it', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate:missing=true`), [ref(smith)]);
      assert.deepEqual(await ids(`Patient?${inSet}&birthdate:missing=false`), [ref(muller), ref(mullins)].sort());
    });

    it(':not excludes the value', async () => {
      assert.deepEqual(await ids(`Observation?subject=Patient/${muller.id}&status:not=final`), [ref(bmiOfMuller)]);
      assert.deepEqual(await ids(`Patient?${inSet}&gender:not=male`), [ref(muller), ref(smith)].sort());
    });

    it('treats comma-separated values as OR', async () => {
      const both = `${MRN}|M-1-${run},${MRN}|M-2-${run}`;
      assert.deepEqual(await ids(`Patient?identifier=${encodeURIComponent(both)}`), [ref(muller), ref(mullins)].sort());
      assert.deepEqual(await ids(`Patient?${inSet}&family=smith,mullins`), [ref(mullins), ref(smith)].sort());
      assert.deepEqual(
        await ids(`Observation?code=29463-7,39156-5&subject=Patient/${muller.id}`),
        [ref(weightOfMuller), ref(bmiOfMuller)].sort()
      );
    });

    it('treats repeated parameters as AND', async () => {
      assert.deepEqual(await ids(`Patient?${inSet}&family=mull&gender=male`), [ref(mullins)]);
    });

    it('searches by _id', async () => {
      assert.deepEqual(await ids(`Patient?_id=${muller.id},${smith.id}`), [ref(muller), ref(smith)].sort());
    });
  });

  describe('_lastUpdated', () => {
    it('compares with the time each resource was last written', async () => {
      const family = unique('Updated');
      const early = await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family }] });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const cutoff = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const late = await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family }] });
      assert.deepEqual(await ids(`Patient?family=${family}&_lastUpdated=gt${encodeURIComponent(cutoff)}`), [ref(late)]);
      assert.deepEqual(await ids(`Patient?family=${family}&_lastUpdated=lt${encodeURIComponent(cutoff)}`), [ref(early)]);
    });

    it('sorts newest first with _sort=-_lastUpdated and oldest first with _sort=_lastUpdated', async () => {
      const family = unique('Sorted');
      const created: Stored<Patient>[] = [];
      for (let i = 0; i < 3; i++) {
        created.push(await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family }] }));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Update the first so that it becomes the most recently updated.
      const touched = await fhir.put(`Patient/${created[0].id}`, { ...created[0], gender: 'unknown' });
      assert.equal(touched.status, 200);
      const expectedNewestFirst = [created[0], created[2], created[1]].map(ref);
      assert.deepEqual(await orderedIds(`Patient?family=${family}&_sort=-_lastUpdated`), expectedNewestFirst);
      assert.deepEqual(await orderedIds(`Patient?family=${family}&_sort=_lastUpdated`), [...expectedNewestFirst].reverse());
    });
  });

  describe('_sort', () => {
    it('sorts by a date ascending and descending, resources without a value last', async () => {
      assert.deepEqual(await orderedIds(`Patient?${inSet}&_sort=birthdate`), [ref(muller), ref(mullins), ref(smith)]);
      assert.deepEqual(await orderedIds(`Patient?${inSet}&_sort=-birthdate`), [ref(mullins), ref(muller), ref(smith)]);
    });

    it('sorts by a string ascending and descending', async () => {
      assert.deepEqual(await orderedIds(`Patient?${inSet}&_sort=family`), [ref(muller), ref(mullins), ref(smith)]);
      assert.deepEqual(await orderedIds(`Patient?${inSet}&_sort=-family`), [ref(smith), ref(mullins), ref(muller)]);
    });
  });

  describe('_include and _revinclude', () => {
    it('_include adds each referenced Patient once, marked as include', async () => {
      const bundle = await fhir.search(`Observation?subject=Patient/${muller.id}&_include=Observation:subject`);
      assert.deepEqual(refsOf(resourcesOf(bundle, 'match')), [ref(weightOfMuller), ref(bmiOfMuller)].sort());
      assert.deepEqual(refsOf(resourcesOf(bundle, 'include')), [ref(muller)]);
    });

    it('_revinclude adds the Observations that reference the matched Patient', async () => {
      const bundle = await fhir.search(`Patient?identifier=${encodeURIComponent(`${MRN}|M-1-${run}`)}&_revinclude=Observation:subject`);
      assert.deepEqual(refsOf(resourcesOf(bundle, 'match')), [ref(muller)]);
      assert.deepEqual(refsOf(resourcesOf(bundle, 'include')), [ref(weightOfMuller), ref(bmiOfMuller)].sort());
    });
  });

  describe('paging and totals', () => {
    const family = unique('Paged');
    const created: string[] = [];

    before(async () => {
      for (let i = 0; i < 23; i++) {
        created.push(ref(await fhir.create<Patient>({ resourceType: 'Patient', name: [{ family, given: [`n${i}`] }] })));
      }
    });

    const visitAll = async (firstQuery: string): Promise<{ pages: Bundle[]; refs: string[] }> => {
      const pages: Bundle[] = [];
      let next: string | undefined = firstQuery;
      while (next !== undefined) {
        assert.ok(pages.length < 20, 'paging does not end');
        const page: Bundle = await fhir.search(next);
        pages.push(page);
        const url = page.link?.find((l) => l.relation === 'next')?.url;
        if (url !== undefined) {
          assert.ok(url.startsWith(`${server.baseUrl}fhir/R4/`), `next link ${url} is not under this server`);
        }
        next = url?.slice(`${server.baseUrl}fhir/R4/`.length);
      }
      return { pages, refs: pages.flatMap((p) => resourcesOf(p, 'match').map(ref)) };
    };

    it('follows next links through every result exactly once', async () => {
      const { pages, refs } = await visitAll(`Patient?family=${family}&_count=5`);
      assert.deepEqual(pages.map((p) => p.entry?.length), [5, 5, 5, 5, 3]);
      assert.equal(new Set(refs).size, refs.length, 'a resource appeared on two pages');
      assert.deepEqual([...refs].sort(), [...created].sort());
    });

    it('keeps the sort order across pages', async () => {
      const { refs } = await visitAll(`Patient?family=${family}&_count=4&_sort=-_lastUpdated`);
      assert.deepEqual(refs, [...created].reverse());
    });

    it('reports the full count with _total=accurate while returning one page', async () => {
      const bundle = await fhir.search(`Patient?family=${family}&_count=5&_total=accurate`);
      assert.equal(bundle.total, 23);
      assert.equal(bundle.entry?.length, 5);
    });

    it('returns no entries but the total for _count=0&_total=accurate', async () => {
      const bundle = await fhir.search(`Patient?family=${family}&_count=0&_total=accurate`);
      assert.equal(bundle.total, 23);
      assert.equal(bundle.entry?.length ?? 0, 0);
    });
  });

  describe('errors', () => {
    it('answers 400 with an OperationOutcome to an unknown search parameter', async () => {
      const outcome = assertOutcome(await fhir.get('Patient?favourite-colour=blue'), 400);
      assert.match(JSON.stringify(outcome), /favourite-colour/);
    });

    it('answers 400 to an unsupported modifier', async () => {
      assertOutcome(await fhir.get('Patient?birthdate:contains=1980'), 400);
    });

    it('answers 400 to a chain through a parameter that is not a reference', async () => {
      assertOutcome(await fhir.get('Observation?status.name=x'), 400);
    });
  });

  describe('POST /fhir/R4/:type/_search', () => {
    it('accepts the parameters as a form body', async () => {
      const res = await fhir
        .post('Patient/_search', `identifier=${encodeURIComponent(`${MRN}|M-2-${run}`)}`)
        .set('Content-Type', 'application/x-www-form-urlencoded');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(refsOf(resourcesOf(res.body as Bundle, 'match')), [ref(mullins)]);
    });
  });
});
