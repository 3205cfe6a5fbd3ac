/**
 * Output views of the vision tasks, drawn over (or beside) the image sent: detection boxes, segmentation masks as
 * coloured overlays, the depth map. Drawn in SVG at the image's own pixel size (viewBox), so the boxes and masks the
 * API gives in pixels of the image sent line up whatever size the picture is shown at. Every drawing is
 * followed by a table with the same facts, for screen readers and for copying.
 */
import { useEffect, useState } from 'preact/hooks';
import { colourIndex, fmt } from './lib.ts';

/** Eight distinct hues; a label keeps its colour across runs (colourIndex hashes the name). */
const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45'];
const colourOf = (label: string): string => COLOURS[colourIndex(label)]!;

/** The natural size of an image URL, once it has loaded. */
function useImageSize(url: string): { width: number; height: number } | undefined {
  const [size, setSize] = useState<{ width: number; height: number }>();
  useEffect(() => {
    const img = new Image();
    img.onload = () => setSize({ width: img.naturalWidth, height: img.naturalHeight });
    img.src = url;
  }, [url]);
  return size;
}

export interface Detection {
  label: string;
  score: number;
  box: { xmin: number; ymin: number; xmax: number; ymax: number };
}

/** Boxes with their labels over the image. */
export function Boxes({ image, detections }: { image: string; detections: Detection[] }) {
  const size = useImageSize(image);
  return (
    <div data-testid="boxes">
      {size && (
        <svg class="drawn" viewBox={`0 0 ${size.width} ${size.height}`} role="img" aria-label={`The image with ${detections.length} detected objects boxed`}>
          <image href={image} width={size.width} height={size.height} />
          {detections.map((d, i) => (
            <g key={i} data-label={d.label}>
              <rect class="box" x={d.box.xmin} y={d.box.ymin} width={Math.max(1, d.box.xmax - d.box.xmin)} height={Math.max(1, d.box.ymax - d.box.ymin)} stroke={colourOf(d.label)} />
              <text x={d.box.xmin + 1} y={d.box.ymin + 1} fill={colourOf(d.label)} dominant-baseline="hanging" font-size={Math.max(4, size.height / 22)}>
                {d.label}
              </text>
            </g>
          ))}
        </svg>
      )}
      {detections.length === 0 ? (
        <p class="warn">No object scored above the threshold.</p>
      ) : (
        <table>
          <caption>Detected objects (pixels of the image sent)</caption>
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col" class="num">Score</th>
              <th scope="col">Box (xmin, ymin, xmax, ymax)</th>
            </tr>
          </thead>
          <tbody>
            {detections.map((d, i) => (
              <tr key={i}>
                <th scope="row">
                  <span class="swatch" style={{ background: colourOf(d.label) }} aria-hidden="true" /> {d.label}
                </th>
                <td class="num">{fmt.score(d.score)}</td>
                <td>
                  {d.box.xmin}, {d.box.ymin}, {d.box.xmax}, {d.box.ymax}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export interface MaskSegment {
  label: string;
  mask: string;
  score?: number;
}

/**
 * Masks as coloured overlays: each black-and-white PNG is an SVG luminance mask over a rectangle of its label's
 * colour, so white pixels take the colour at half opacity and black ones leave the image as it is.
 */
export function Masks({ image, segments }: { image: string; segments: MaskSegment[] }) {
  const size = useImageSize(image);
  const [hidden, setHidden] = useState<Set<number>>(new Set());
  const toggle = (i: number) => setHidden((h) => (h.has(i) ? new Set([...h].filter((x) => x !== i)) : new Set([...h, i])));
  return (
    <div data-testid="masks">
      {size && (
        <svg class="drawn" viewBox={`0 0 ${size.width} ${size.height}`} role="img" aria-label={`The image with ${segments.length} segments coloured`}>
          <defs>
            {segments.map((s, i) => (
              <mask key={i} id={`seg-mask-${i}`} maskUnits="userSpaceOnUse" x="0" y="0" width={size.width} height={size.height}>
                <image href={`data:image/png;base64,${s.mask}`} width={size.width} height={size.height} style={{ imageRendering: 'pixelated' }} />
              </mask>
            ))}
          </defs>
          <image href={image} width={size.width} height={size.height} />
          {segments.map((s, i) =>
            hidden.has(i) ? null : <rect key={i} data-label={s.label} width={size.width} height={size.height} fill={colourOf(s.label)} opacity="0.55" mask={`url(#seg-mask-${i})`} />,
          )}
        </svg>
      )}
      <ul class="legend" aria-label="Segments">
        {segments.map((s, i) => (
          <li key={i}>
            <label class="inline">
              <input type="checkbox" checked={!hidden.has(i)} onChange={() => toggle(i)} />
              <span class="swatch" style={{ background: colourOf(s.label) }} aria-hidden="true" /> {s.label}
              {s.score !== undefined && s.score !== null ? ` (${fmt.score(s.score)})` : ''}
            </label>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The depth map (as the API's PNG) beside the image. */
export function DepthMap({ image, depth }: { image: string; depth: string }) {
  return (
    <div class="side-by-side" data-testid="depth">
      <figure>
        <img src={image} alt="The image sent" />
        <figcaption>Image</figcaption>
      </figure>
      <figure>
        <img src={`data:image/png;base64,${depth}`} alt="Its estimated depth map: brighter is nearer" />
        <figcaption>Depth (brighter is nearer)</figcaption>
      </figure>
    </div>
  );
}
