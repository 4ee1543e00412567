// Types of bench/quick-gate.mjs for the TypeScript tests that import it.
export interface QuickCheck { what: string; ok: boolean; value?: number; detail: string }
export interface QuickVerdict { ok: boolean; thresholds?: typeof QUICK_THRESHOLDS; checks: QuickCheck[] }
export declare const QUICK_THRESHOLDS: { cpuPerFrame5000x100Max: number; cpuPerFrame1000x100Max: number; framesPerSecond5000x100Min: number; idleMemoryMax: number };
export declare function judgeQuick(result: { runs: Record<string, Record<string, unknown>[]> }): QuickVerdict;
export declare function formatQuick(verdict: QuickVerdict): string;
