/**
 * A photo that cannot be accepted, with a stable code and a message that tells the sender what
 * to do. Routes turn it into a problem-details 4xx; it never means the server failed.
 */
export type PhotoErrorCode =
  | 'photo-empty'
  | 'photo-too-large'
  | 'photo-too-many-pixels'
  | 'photo-unsupported-type'
  | 'photo-heic-not-supported'
  | 'photo-corrupt'
  | 'photo-too-small';

export class PhotoError extends Error {
  constructor(
    readonly code: PhotoErrorCode,
    message: string,
    readonly status: 400 | 413 | 415 | 422 = 422
  ) {
    super(message);
    this.name = 'PhotoError';
  }
}
