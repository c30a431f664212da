/** A StructureDefinition whose differential cannot be turned into a snapshot; the message names the element. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}
