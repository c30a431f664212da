import busboy from 'busboy';
import type { Request } from 'express';
import { IntakeError } from './intake-error';

export interface UploadedFile {
  readonly field: string;
  readonly filename: string;
  readonly declaredType: string;
  readonly bytes: Buffer;
}

export interface MultipartBody {
  readonly fields: ReadonlyMap<string, string>;
  readonly files: readonly UploadedFile[];
}

export interface MultipartLimits {
  readonly maxFileBytes: number;
  readonly maxFiles: number;
  /** Largest text field (the QuestionnaireResponse JSON). */
  readonly maxFieldBytes: number;
  /** All files together: bounds the memory one request can hold (default 100 MiB). */
  readonly maxTotalBytes?: number;
}

/**
 * Reads a multipart/form-data body into memory within limits; `onFile` sees each file part as soon
 * as it is complete, while the rest of the body is still arriving. When a limit is hit the rest of the
 * body is still read and discarded, so the client gets the 4xx instead of a reset connection.
 */
export function readMultipart(req: Request, limits: MultipartLimits, onFile?: (file: UploadedFile) => void): Promise<MultipartBody> {
  if (!req.headers['content-type']?.startsWith('multipart/form-data')) {
    return Promise.reject(new IntakeError(415, 'unsupported-media-type', 'Send multipart/form-data (a questionnaireResponse part and photo parts) or a FHIR transaction Bundle as application/fhir+json.'));
  }
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fieldSize: limits.maxFieldBytes, fields: 200, parts: limits.maxFiles + 200 },
      });
    } catch (err) {
      reject(new IntakeError(400, 'invalid-multipart', `The multipart body cannot be read: ${(err as Error).message}`));
      return;
    }
    const fields = new Map<string, string>();
    const files: UploadedFile[] = [];
    const maxTotal = limits.maxTotalBytes ?? 100 * 1024 * 1024;
    let total = 0;
    let failure: IntakeError | undefined;
    const fail = (e: IntakeError): void => {
      failure ??= e;
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) {
        fail(new IntakeError(413, 'field-too-large', `The field '${name}' is larger than ${limits.maxFieldBytes} bytes.`));
      }
      fields.set(name, value);
    });
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxTotal) {
          fail(new IntakeError(413, 'request-too-large', `The photos add up to more than ${(maxTotal / 1024 / 1024).toFixed(0)} MB. Send fewer photos at once (add more to the case afterwards).`));
        }
        if (!failure) chunks.push(chunk);
      });
      stream.on('limit', () => {
        fail(new IntakeError(413, 'photo-too-large', `The photo '${info.filename ?? field}' is larger than ${(limits.maxFileBytes / 1024 / 1024).toFixed(0)} MB. Send the photo as taken by the phone camera, not an edited or exported high-resolution copy.`, [{ where: field, message: 'too large' }]));
      });
      stream.on('close', () => {
        if (!failure) {
          const file = { field, filename: info.filename ?? field, declaredType: info.mimeType, bytes: Buffer.concat(chunks) };
          files.push(file);
          onFile?.(file);
        }
      });
    });
    parser.on('filesLimit', () => {
      fail(new IntakeError(413, 'too-many-photos', `At most ${limits.maxFiles} photos can be sent at once. Choose the best photos (an overview and 2-3 close-ups per site).`));
    });
    parser.on('partsLimit', () => fail(new IntakeError(413, 'too-many-parts', 'The multipart body has too many parts.')));
    parser.on('fieldsLimit', () => fail(new IntakeError(413, 'too-many-fields', 'The multipart body has too many fields.')));
    parser.on('error', (err: Error) => {
      fail(new IntakeError(400, 'invalid-multipart', `The multipart body cannot be read: ${err.message}`));
      req.unpipe(parser);
      req.resume();
      req.on('end', () => reject(failure));
    });
    parser.on('close', () => (failure ? reject(failure) : resolve({ fields, files })));
    req.pipe(parser);
  });
}
