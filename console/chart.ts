/**
 * Time-series charts with uPlot (small, fast, canvas; bundled, no CDN). A chart is rebuilt only
 * when its set of series changes; otherwise new points are handed to setData.
 */
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { h } from './dom.ts'

const COLORS = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#be185d',
  '#65a30d',
  '#4f46e5',
  '#b45309',
]

export interface TimeChart {
  readonly element: HTMLElement
  /** `t` in ms since the epoch; one array per series, aligned with t. */
  update(
    t: readonly number[],
    series: readonly { readonly label: string; readonly values: readonly (number | null)[] }[],
  ): void
  destroy(): void
}

export function timeChart(title: string, unit: string): TimeChart {
  const box = h('div', { class: 'chart-box' })
  const element = h('figure', { class: 'chart', 'data-chart': title }, h('figcaption', {}, title), box)
  let plot: uPlot | undefined
  let labels = ''
  const width = (): number => Math.max(260, box.clientWidth || element.clientWidth || 400)
  const onResize = (): void => plot?.setSize({ width: width(), height: 180 })
  window.addEventListener('resize', onResize)
  return {
    element,
    update(t, series) {
      const key = series.map((s) => s.label).join('\u0000')
      const data = [t.map((x) => x / 1000), ...series.map((s) => [...s.values])] as uPlot.AlignedData
      if (plot === undefined || key !== labels) {
        plot?.destroy()
        labels = key
        box.replaceChildren()
        if (series.length === 0) {
          box.append(h('p', { class: 'muted' }, 'no data yet'))
          plot = undefined
          return
        }
        plot = new uPlot(
          {
            width: width(),
            height: 180,
            legend: { show: true },
            scales: { x: { time: true } },
            axes: [{}, { label: unit, size: 60 }],
            series: [
              {},
              ...series.map((s, i) => ({
                label: s.label,
                stroke: COLORS[i % COLORS.length],
                width: 1.5,
                spanGaps: false,
              })),
            ],
          },
          data,
          box,
        )
        return
      }
      plot.setData(data)
    },
    destroy() {
      window.removeEventListener('resize', onResize)
      plot?.destroy()
    },
  }
}
