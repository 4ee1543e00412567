// Types of scripts/bundle-ts.mjs for the TypeScript tests that import it.
export declare function bundleTs(entry: string, outdir: string): Promise<string>;
