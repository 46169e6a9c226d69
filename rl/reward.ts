/**
 * Verifiers and the reward of the coding-tool env. A verifier reads one number from an action's metrics
 * (`pass_rate`, `blast_radius`, `build_ok`, `lint_ok`, `quality_avg`); {@link aggregateReward} scales each
 * value (`scales[kind] = [lo, hi]` → (raw−lo)/(hi−lo)), clamps the `clamp01Kinds` to [0, 1], turns
 * `penaltyKinds` into −|value|, and sums `weights[kind] × value` (weight 1 when not given). Unlike the old
 * tool, `blast_radius` is a penalty by default, so a bigger patch never scores higher.
 *
 * @module
 */

/** Metrics an action reports. */
export type ActionMetrics = Record<string, number>;

/** A verifier: a named function from metrics to a raw number. */
export interface Verifier {
  kind: string;
  score(metrics: ActionMetrics): number;
}

/** The default verifiers, in observation order. */
export const DEFAULT_VERIFIERS: readonly Verifier[] = [
  {
    kind: "pass_rate",
    score: (m) => m.pass_rate ?? (m.tests_total ? (m.tests_passed ?? 0) / m.tests_total : 0),
  },
  { kind: "blast_radius", score: (m) => m.blast_radius ?? (m.lines_added ?? 0) + (m.lines_removed ?? 0) },
  { kind: "build_ok", score: (m) => m.build_ok ?? 0 },
  { kind: "lint_ok", score: (m) => m.lint_ok ?? (m.lint_issues === 0 ? 1 : 0) },
  {
    kind: "quality_avg",
    score: (m) => {
      const q = Object.entries(m).filter(([k]) => k.startsWith("quality_")).map(([, v]) => v);
      return q.length ? q.reduce((a, b) => a + b, 0) / q.length : 1;
    },
  },
];

/** Reward settings (the reference's `RewardConfig`). */
export interface RewardConfig {
  /** Weight per verifier kind (default 1). */
  weights?: Record<string, number>;
  /** Kinds counted as −|value| (default `["blast_radius"]`). */
  penaltyKinds?: string[];
  /** Kinds clamped to [0, 1] after scaling. */
  clamp01Kinds?: string[];
  /** `[lo, hi]` per kind; value = (raw − lo)/(hi − lo), 0 when hi = lo. */
  scales?: Record<string, [number, number]>;
}

/** The defaults: blast_radius is a penalty scaled by 100 lines and clamped. */
export const DEFAULT_REWARD: Required<RewardConfig> = {
  weights: { pass_rate: 1, blast_radius: 1, build_ok: 0.5, lint_ok: 0.5, quality_avg: 0.1 },
  penaltyKinds: ["blast_radius"],
  clamp01Kinds: ["blast_radius"],
  scales: { blast_radius: [0, 100] },
};

/** Result of {@link aggregateReward}. */
export interface RewardBreakdown {
  reward: number;
  /** Scaled (and clamped/penalised) value per verifier, in verifier order. */
  values: number[];
  /** Raw verifier outputs by kind. */
  raw: Record<string, number>;
}

/**
 * Sums the weighted, scaled verifier values.
 *
 * @example
 * ```ts
 * // pass_rate 0.92, blast_radius 0.05 as a penalty with weight 0.5 → 0.895
 * aggregateReward({ pass_rate: 0.92, blast_radius: 0.05 }, DEFAULT_VERIFIERS.slice(0, 2),
 *   { weights: { pass_rate: 1, blast_radius: 0.5 }, penaltyKinds: ["blast_radius"], scales: {} });
 * ```
 */
export function aggregateReward(
  metrics: ActionMetrics,
  verifiers: readonly Verifier[],
  config: RewardConfig,
): RewardBreakdown {
  const weights = config.weights ?? {};
  const penalties = new Set(config.penaltyKinds ?? []);
  const clamp = new Set(config.clamp01Kinds ?? []);
  const scales = config.scales ?? {};
  let reward = 0;
  const values: number[] = [];
  const raw: Record<string, number> = {};
  for (const v of verifiers) {
    let r = Number(v.score(metrics));
    if (!Number.isFinite(r)) r = 0;
    raw[v.kind] = r;
    let val = r;
    const scale = scales[v.kind];
    if (scale) val = scale[1] === scale[0] ? 0 : (r - scale[0]) / (scale[1] - scale[0]);
    if (clamp.has(v.kind)) val = Math.min(1, Math.max(0, val));
    const contrib = penalties.has(v.kind) ? -Math.abs(val) : val;
    values.push(contrib);
    reward += (weights[v.kind] ?? 1) * contrib;
  }
  return { reward, values, raw };
}
