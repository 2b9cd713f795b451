// Decoding the Prometheus protobuf format with protobufjs, from metrics.proto (fixtures/), for the tests.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { expect } from 'vitest';

/** What Prometheus 2.42 sends with --enable-feature=native-histograms. */
export const PROMETHEUS_NATIVE_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const root = new protobuf.Root();
root.loadSync(fileURLToPath(new URL('fixtures/metrics.proto', import.meta.url)), { keepCase: true });
const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');

export interface LabelPair {
  name: string;
  value: string;
}
export interface Exemplar {
  label: LabelPair[];
  value: number;
  timestamp?: { seconds: number; nanos?: number };
}
export interface DecodedHistogram {
  sample_count: number;
  sample_sum: number;
  bucket?: { cumulative_count: number; upper_bound: number; exemplar?: Exemplar }[];
  schema?: number;
  zero_threshold?: number;
  zero_count?: number;
  positive_span?: { offset: number; length: number }[];
  positive_delta?: number[];
}
export interface DecodedMetric {
  label?: LabelPair[];
  counter?: { value: number; exemplar?: Exemplar };
  gauge?: { value: number };
  summary?: { sample_count: number; sample_sum: number; quantile?: { quantile: number; value: number }[] };
  histogram?: DecodedHistogram;
}
export interface DecodedFamily {
  name: string;
  help: string;
  type: number;
  metric: DecodedMetric[];
}

/** Every length-delimited MetricFamily of a body, decoded by protobufjs; and the bytes it encodes them to again. */
export function decode(body: Uint8Array): { families: DecodedFamily[]; reencoded: Buffer } {
  const reader = protobuf.Reader.create(body);
  const families: DecodedFamily[] = [];
  const again: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const message = MetricFamily.decodeDelimited(reader);
    again.push(MetricFamily.encodeDelimited(message).finish());
    families.push(MetricFamily.toObject(message, { longs: Number, enums: Number }) as DecodedFamily);
  }
  return { families, reencoded: Buffer.concat(again) };
}

export const labelsOf = (metric: DecodedMetric) =>
  Object.fromEntries((metric.label ?? []).map((l) => [l.name, l.value]));

/** Bucket index → count, from spans and deltas. */
export function nativeBucketsOf(histogram: DecodedHistogram): Map<number, number> {
  const buckets = new Map<number, number>();
  let index = 0;
  let count = 0;
  let delta = 0;
  for (const span of histogram.positive_span ?? []) {
    index += span.offset;
    for (let i = 0; i < span.length; i++) {
      count += histogram.positive_delta?.[delta++] as number;
      buckets.set(index++, count);
    }
  }
  expect(delta).toBe(histogram.positive_delta?.length ?? 0);
  return buckets;
}
