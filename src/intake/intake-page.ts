import type { Response } from 'express';

/**
 * The intake page shell. The helmet default CSP stays (scripts only from 'self'), widened only
 * for `blob:` images: the page previews the chosen photos from the device without uploading them.
 */
export function sendIntakePage(res: Response, variant: 'patient' | 'pcp', basePath: string): void {
  res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'");
  res.type('html').send(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${variant === 'pcp' ? 'Dermatology e-consult' : 'Ask a dermatologist'} - dermbridge</title>
<link rel="stylesheet" href="${basePath}/assets/intake.css">
</head>
<body data-variant="${variant}">
<main id="app" aria-live="polite"><p>Loading the form...</p></main>
<script src="${basePath}/assets/intake.js"></script>
</body>
</html>`);
}
