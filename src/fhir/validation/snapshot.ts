import type { ElementDefinition, ElementDefinitionType, StructureDefinition } from '@medplum/fhirtypes';
import { SnapshotError } from './snapshot-error';
import { mergeElement } from './snapshot-merge';

export { SnapshotError } from './snapshot-error';

/** Finds a StructureDefinition that has a snapshot (a base type, a datatype, an extension) by canonical URL. */
export type SnapshotResolver = (url: string) => StructureDefinition | undefined;

/**
 * Builds `snapshot` from `differential`, the way http://hl7.org/fhir/R4/profiling.html#snapshot
 * describes, for the subset of profiling that dermbridge's validator can enforce. Medplum's
 * validator reads only snapshots, and profile authors write differentials.
 *
 * Supported:
 * - constraints on any element of the base snapshot, and on children of a datatype element
 *   (`Patient.identifier.system`): the datatype's elements are unfolded under the element;
 * - cardinality (min/max; narrowing only), type narrowing (incl. `targetProfile`/`profile`),
 *   fixed[x], pattern[x], binding, mustSupport, constraint (FHIRPath invariants), and every other
 *   ElementDefinition property, which is copied over the base's;
 * - choice elements named by type (`Observation.valueQuantity`, or `value[x]:valueQuantity`):
 *   the choice is narrowed to that one type;
 * - slicing: `slicing` on an element, slices (`sliceName`, id `X.identifier:mrn`) and constraints
 *   inside them; a slice starts as a copy of the sliced element (min 0) with its children;
 *   extension slices typed with an extension profile get `url` fixed to that profile, so the
 *   validator can tell them apart;
 * - profiles of profiles (the resolver must return the base profile with its snapshot).
 * Not supported (a SnapshotError names the element): re-slicing (`a:b/c`), constraining children of
 * a `contentReference` element (e.g. `Questionnaire.item.item.linkId`), constraining children of an
 * element that still has several types. Differential elements inside slices need their `id`.
 */
export function generateSnapshot(sd: StructureDefinition, resolve: SnapshotResolver): StructureDefinition {
  const diff = sd.differential?.element;
  if (!diff?.length) {
    throw new SnapshotError(`${sd.url}: has neither snapshot nor differential elements`);
  }
  const base = sd.baseDefinition ? resolve(sd.baseDefinition) : undefined;
  if (!base?.snapshot?.element?.length) {
    throw new SnapshotError(`${sd.url}: base definition ${sd.baseDefinition ?? '(none)'} is unknown or has no snapshot`);
  }
  const builder = new SnapshotBuilder(base.snapshot.element, resolve);
  for (const element of diff) {
    builder.apply(element);
  }
  builder.fixExtensionSliceUrls();
  return { ...sd, snapshot: { element: builder.elements } };
}

class SnapshotBuilder {
  readonly elements: ElementDefinition[];

  constructor(
    base: ElementDefinition[],
    private readonly resolve: SnapshotResolver
  ) {
    this.elements = base.map((element) => ({ ...structuredClone(element), id: element.id ?? element.path }));
  }

  apply(diff: ElementDefinition): void {
    const id = diff.id ?? (diff.sliceName ? `${diff.path}:${diff.sliceName}` : diff.path);
    const root = this.elements[0].id as string;
    if (!id || (id !== root && !id.startsWith(root + '.'))) {
      throw new SnapshotError(`${id ?? '(no id or path)'}: differential elements must start with ${root}`);
    }
    if (diff.sliceName && !lastSegment(id).endsWith(`:${diff.sliceName}`)) {
      throw new SnapshotError(`${id}: the id of a slice must end with :${diff.sliceName}`);
    }
    const index = diff.sliceName ? this.ensureSlice(id) : this.ensureElement(id);
    mergeElement(this.elements[index], diff);
  }

  /** Extension slices are told apart by `url`; without a fixed url child no value would ever match the slice. */
  fixExtensionSliceUrls(): void {
    const slices = this.elements.filter((e) => e.sliceName && e.type?.length === 1 && e.type[0].code === 'Extension' && e.type[0].profile?.length);
    for (const slice of slices) {
      const index = this.ensureElement(`${slice.id}.url`);
      const url = this.elements[index];
      url.fixedUri ??= slice.type?.[0].profile?.[0];
    }
  }

  /** Index of the element with this id, unfolding datatypes and resolving choice names on the way. */
  private ensureElement(id: string): number {
    const existing = this.indexOf(id);
    if (existing >= 0) {
      return existing;
    }
    const dot = id.lastIndexOf('.');
    if (dot < 0) {
      throw new SnapshotError(`${id}: unknown root element`);
    }
    const parentIndex = this.ensureElement(id.slice(0, dot));
    const parentId = this.elements[parentIndex].id as string;
    const name = id.slice(dot + 1);
    const canonical = this.indexOf(`${parentId}.${name}`);
    if (canonical >= 0) {
      return canonical;
    }
    if (!this.hasChildren(parentIndex)) {
      this.unfold(parentIndex);
      const unfolded = this.indexOf(`${parentId}.${name}`);
      if (unfolded >= 0) {
        return unfolded;
      }
    }
    const choice = this.narrowChoice(parentId, name);
    if (choice >= 0) {
      return choice;
    }
    if (name.includes(':')) {
      throw new SnapshotError(`${id}: slice ${name} is used before a differential element declares it (with sliceName)`);
    }
    throw new SnapshotError(`${id}: ${parentId} has no element ${name}`);
  }

  private ensureSlice(id: string): number {
    const dot = id.lastIndexOf('.');
    const [slicedName, sliceName] = splitSlice(id.slice(dot + 1));
    if (sliceName.includes('/')) {
      throw new SnapshotError(`${id}: re-slicing is not supported`);
    }
    if (slicedName.endsWith('[x]')) {
      return this.ensureElement(id); // a type slice on a choice is read as narrowing the choice
    }
    const slicedIndex = this.ensureElement(`${id.slice(0, dot)}.${slicedName}`);
    const sliced = this.elements[slicedIndex];
    const sliceId = `${sliced.id}:${sliceName}`;
    const existing = this.indexOf(sliceId);
    if (existing >= 0) {
      return existing; // declared by the base profile
    }
    if (!sliced.slicing && isExtensionElement(sliced)) {
      sliced.slicing = { discriminator: [{ type: 'value', path: 'url' }], ordered: false, rules: 'open' };
    } else if (!sliced.slicing) {
      throw new SnapshotError(`${id}: ${sliced.id} is not sliced; give it a slicing (discriminator) before its slices`);
    }
    const slice: ElementDefinition = { ...structuredClone(sliced), id: sliceId, sliceName, min: 0 };
    delete slice.slicing;
    const children = this.children(slicedIndex).map((child) => rebase(child, sliced.id as string, sliceId, undefined, undefined));
    const at = this.subtreeEnd(slicedIndex);
    this.elements.splice(at, 0, slice, ...children);
    return at;
  }

  /** `valueQuantity` (or `value[x]:valueQuantity`) names `value[x]` narrowed to Quantity. */
  private narrowChoice(parentId: string, name: string): number {
    const typeName = name.includes(':') ? splitSlice(name)[1] : name;
    for (let i = 0; i < this.elements.length; i++) {
      const element = this.elements[i];
      const elementName = element.id?.startsWith(parentId + '.') ? element.id.slice(parentId.length + 1) : '';
      if (!elementName.endsWith('[x]') || elementName.includes('.') || elementName.includes(':')) {
        continue;
      }
      const prefix = elementName.slice(0, -3);
      const type = element.type?.find((t) => prefix + upperFirst(t.code) === typeName);
      if (type && (!name.includes(':') || splitSlice(name)[0] === elementName)) {
        element.type = [type];
        return i;
      }
    }
    return -1;
  }

  /** Copies the children of the element's type (or type profile) under it. */
  private unfold(index: number): void {
    const element = this.elements[index];
    if (element.contentReference) {
      throw new SnapshotError(`${element.id}: constraining children of a contentReference element is not supported`);
    }
    if (element.type?.length !== 1) {
      throw new SnapshotError(`${element.id}: has ${element.type?.length ?? 0} types; narrow it to one type before constraining its children`);
    }
    const typeSd = this.typeDefinition(element.type[0]);
    const [root, ...children] = typeSd.snapshot?.element ?? [];
    if (!root) {
      throw new SnapshotError(`${element.id}: type ${element.type[0].code} has no snapshot`);
    }
    const unfolded = children.map((child) => rebase(child, root.id ?? root.path, element.id as string, root.path, element.path));
    this.elements.splice(index + 1, 0, ...unfolded);
  }

  private typeDefinition(type: ElementDefinitionType): StructureDefinition {
    for (const profile of type.profile ?? []) {
      const sd = this.resolve(profile);
      if (sd?.snapshot) {
        return sd;
      }
    }
    const code = type.code.startsWith('http') ? type.code : `http://hl7.org/fhir/StructureDefinition/${type.code}`;
    const sd = this.resolve(code);
    if (!sd?.snapshot) {
      throw new SnapshotError(`type ${type.code} is unknown`);
    }
    return sd;
  }

  private indexOf(id: string): number {
    return this.elements.findIndex((e) => e.id === id);
  }

  private hasChildren(index: number): boolean {
    return this.elements[index + 1]?.id?.startsWith(`${this.elements[index].id}.`) ?? false;
  }

  /** The element's own descendants (not its slices). */
  private children(index: number): ElementDefinition[] {
    const prefix = `${this.elements[index].id}.`;
    const result: ElementDefinition[] = [];
    for (let i = index + 1; i < this.elements.length && this.elements[i].id?.startsWith(prefix); i++) {
      result.push(this.elements[i]);
    }
    return result;
  }

  /** Index just past the element, its descendants and its slices (with theirs). */
  private subtreeEnd(index: number): number {
    const id = this.elements[index].id as string;
    let i = index + 1;
    while (i < this.elements.length && (this.elements[i].id?.startsWith(`${id}.`) || this.elements[i].id?.startsWith(`${id}:`))) {
      i++;
    }
    return i;
  }
}

/** A copy of `element` moved from under `fromId` to under `toId` (and likewise for its path, when given). */
function rebase(element: ElementDefinition, fromId: string, toId: string, fromPath: string | undefined, toPath: string | undefined): ElementDefinition {
  const copy = structuredClone(element);
  copy.id = toId + (element.id ?? element.path ?? '').slice(fromId.length);
  if (fromPath !== undefined && toPath !== undefined) {
    copy.path = toPath + (element.path ?? '').slice(fromPath.length);
  }
  return copy;
}

/** Extensions are sliced by url even when the base does not say so (http://hl7.org/fhir/R4/profiling.html#slicing). */
function isExtensionElement(element: ElementDefinition): boolean {
  return element.type?.length === 1 && element.type[0].code === 'Extension';
}

function lastSegment(id: string): string {
  return id.slice(id.lastIndexOf('.') + 1);
}

function splitSlice(segment: string): [string, string] {
  const colon = segment.indexOf(':');
  return colon < 0 ? [segment, ''] : [segment.slice(0, colon), segment.slice(colon + 1)];
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
