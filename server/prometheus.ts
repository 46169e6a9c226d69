/**
 * Prometheus text exposition (format 0.0.4): a small writer that emits `# HELP`/`# TYPE` once per family,
 * escapes label values, and renders histograms with cumulative `_bucket{le=...}`, `_sum` and `_count`.
 *
 * @module
 */

/** Label set of one sample. */
export type Labels = Record<string, string | number>;

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  let out = "";
  for (const k in labels) out += `${out ? "," : ""}${k}="${escapeLabel(String(labels[k]))}"`;
  return out ? `{${out}}` : "";
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Builds one exposition document. */
export class PromWriter {
  #lines: string[] = [];
  #declared = new Set<string>();

  #declare(name: string, type: string, help: string): void {
    if (this.#declared.has(name)) return;
    this.#declared.add(name);
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
  }

  /** Adds a counter sample. */
  counter(name: string, help: string, value: number, labels?: Labels): this {
    this.#declare(name, "counter", help);
    this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  /** Adds a gauge sample. */
  gauge(name: string, help: string, value: number, labels?: Labels): this {
    this.#declare(name, "gauge", help);
    this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  /** Adds a histogram from per-bucket (non-cumulative) counts. */
  histogram(
    name: string,
    help: string,
    bounds: number[],
    counts: number[],
    overflow: number,
    sum: number,
    labels: Labels = {},
  ): this {
    this.#declare(name, "histogram", help);
    const base = formatLabels(labels);
    const open = base ? base.slice(0, -1) + "," : "{";
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += counts[i];
      this.#lines.push(`${name}_bucket${open}le="${bounds[i]}"} ${cumulative}`);
    }
    cumulative += overflow;
    this.#lines.push(`${name}_bucket${open}le="+Inf"} ${cumulative}`);
    this.#lines.push(`${name}_sum${base} ${formatValue(sum)}`);
    this.#lines.push(`${name}_count${base} ${cumulative}`);
    return this;
  }

  /** The document, newline-terminated. */
  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/** Content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
