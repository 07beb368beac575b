/** The tests' Prometheus text parser (it ships no types). */
declare module 'parse-prometheus-text-format' {
  export interface Sample {
    value?: string
    count?: string
    sum?: string
    labels?: Record<string, string>
    buckets?: Record<string, string>
  }
  export interface MetricFamily {
    name: string
    help: string
    type: string
    metrics: Sample[]
  }
  export default function parsePrometheusTextFormat(text: string): MetricFamily[]
}
