/** A Chart.js chart with its table equivalent (the chart is an image with a label; the table carries the data). */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);

export const COLOURS = ['#2f8f5b', '#c77c00', '#b3261e', '#6b3fb8', '#1f5fbf', '#00838f', '#8d6e63', '#5d6b7a'];

export interface Series {
  label: string;
  values: (number | null)[];
  colour?: string;
  kind?: 'bar' | 'line';
}

export interface ChartProps {
  title: string;
  labels: string[];
  series: Series[];
  stacked?: boolean;
  horizontal?: boolean;
  /** Formats values in the table. */
  format?: (v: number | null) => string;
  id: string;
}

export function ChartBox({ title, labels, series, stacked, horizontal, format = (v) => (v === null ? '–' : String(Math.round(v * 1000) / 1000)), id }: ChartProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | undefined>(undefined);
  useEffect(() => {
    const config: ChartConfiguration = {
      type: series.some((s) => s.kind === 'bar') || stacked || horizontal ? 'bar' : 'line',
      data: {
        labels,
        datasets: series.map((s, i) => ({
          type: s.kind ?? (stacked || horizontal ? 'bar' : 'line'),
          label: s.label,
          data: s.values,
          backgroundColor: s.colour ?? COLOURS[i % COLOURS.length],
          borderColor: s.colour ?? COLOURS[i % COLOURS.length],
          pointRadius: 2,
          borderWidth: s.kind === 'line' || (!stacked && !horizontal && s.kind !== 'bar') ? 2 : 0,
          spanGaps: true,
        })) as never,
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? 'y' : 'x',
        scales: { x: { stacked: !!stacked, ticks: { maxTicksLimit: 12 } }, y: { stacked: !!stacked, beginAtZero: true } },
        plugins: { legend: { position: 'bottom' } },
      },
    };
    if (!canvas.current) return;
    if (chart.current) {
      chart.current.data = config.data;
      chart.current.update();
    } else chart.current = new Chart(canvas.current, config);
  }, [labels, series]);
  useEffect(() => () => chart.current?.destroy(), []);
  return (
    <figure class="chartfig" aria-labelledby={`${id}-t`}>
      <figcaption id={`${id}-t`}>
        <strong>{title}</strong>
      </figcaption>
      <div class="chart">
        <canvas ref={canvas} role="img" aria-label={`${title}: chart; the same data is in the table below`} />
      </div>
      <details>
        <summary>{title}: table</summary>
        <div class="scroll">
          <table>
            <caption class="sr-only">{title}</caption>
            <thead>
              <tr>
                <th scope="col">{horizontal ? 'Name' : 'Time'}</th>
                {series.map((s) => (
                  <th key={s.label} scope="col" class="num">
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {labels.map((l, i) => (
                <tr key={`${l}-${i}`}>
                  <th scope="row">{l}</th>
                  {series.map((s) => (
                    <td key={s.label} class="num">
                      {format(s.values[i] ?? null)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}
