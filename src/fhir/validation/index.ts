export type { ConformanceResources } from './conformance';
export { releaseCoreDefinitions } from './core-definitions';
export { ConformanceLoadError, loadConformanceResources } from './conformance';
export { ProfileLoadError } from './profiles';
export type { ResourceValidator, ResourceValidatorOptions } from './resource-validator';
export { createResourceValidator } from './resource-validator';
export type { SnapshotResolver } from './snapshot';
export { generateSnapshot, SnapshotError } from './snapshot';
export type { Unexpandable } from './terminology';
