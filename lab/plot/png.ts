/**
 * PNG through resvg (a well-kept Rust SVG renderer shipped as a prebuilt Node addon in its npm
 * package): the same drawing as the SVG, rasterised, so both files always agree.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function svgToPng(svg: string, scale = 1): Buffer {
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const r = new Resvg(svg, {
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    background: '#ffffff',
  });
  return r.render().asPng();
}
