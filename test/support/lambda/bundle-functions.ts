import { build, type BuildOptions } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The repository root (this file is test/support/lambda/bundle-functions.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// serverless-esbuild's own keys, which it strips before calling esbuild (serverless-esbuild 1.57, dist/bundle.js).
const PLUGIN_KEYS = ['concurrency', 'zipConcurrency', 'exclude', 'nativeZip', 'packager', 'packagePath', 'watch',
  'keepOutputDirectory', 'packagerOptions', 'installExtraArgs', 'outputFileExtension', 'outputBuildFolder',
  'outputWorkFolder', 'nodeExternals', 'skipBuild', 'skipRebuild', 'skipBuildExcludeFns', 'stripEntryResolveExtensions',
  'disposeContext', 'config'];

/**
 * The esbuild options serverless.yml gives serverless-esbuild (`custom.esbuild`), as serverless-esbuild passes them on,
 * and the `NODE_OPTIONS` its functions run with (provider.environment), which a faithful cold start must use too.
 */
export async function serverlessEsbuildOptions(root = REPO_ROOT): Promise<{ options: BuildOptions; extension: string; handlers: Record<string, string>; nodeOptions: string | undefined }> {
  const manifest = parse(await readFile(join(root, 'serverless.yml'), 'utf8'), { customTags: cloudFormationTags, merge: true }) as {
    custom: { esbuild: Record<string, unknown> };
    functions: Record<string, { handler: string }>;
    provider: { environment?: Record<string, unknown> };
  };
  const custom = manifest.custom.esbuild;
  const options: Record<string, unknown> = { ...custom };
  for (const key of PLUGIN_KEYS) delete options[key];
  const exclude = (custom['exclude'] as string[] | undefined) ?? ['aws-sdk'];
  options['external'] = [...((custom['external'] as string[] | undefined) ?? []), ...exclude];
  const handlers = Object.fromEntries(Object.entries(manifest.functions).map(([name, fn]) => [name, fn.handler]));
  const nodeOptions = manifest.provider.environment?.['NODE_OPTIONS'];
  return { options: options as BuildOptions, extension: String(custom['outputFileExtension'] ?? '.js'), handlers, nodeOptions: typeof nodeOptions === 'string' ? nodeOptions : undefined };
}

/** Size of each bundle written, bytes, by function name. */
export type BundleSizes = Record<string, number>;

/**
 * Bundles the named functions of serverless.yml into `outdir`, laid out as in the deployment package
 * (`functions/stream.mjs`), so `startLambdaFunction({ taskRoot: outdir, handler: 'functions/stream.handler' })` runs
 * exactly what `serverless package` ships.
 */
export async function bundleFunctions(outdir: string, names: readonly string[]): Promise<BundleSizes> {
  const { handlers } = await serverlessEsbuildOptions();
  const sizes: BundleSizes = {};
  for (const name of names) {
    const handler = handlers[name];
    if (handler === undefined) throw new Error(`serverless.yml has no function "${name}"`);
    sizes[name] = await bundleEntry(`${handler.slice(0, handler.lastIndexOf('.'))}.ts`, outdir);
  }
  return sizes;
}

/** Bundles one entry (a path relative to the repository root) with serverless.yml's options; returns its size, bytes. */
export async function bundleEntry(entry: string, outdir: string): Promise<number> {
  return (await bundleEntryParts(entry, outdir)).entryBytes;
}

/**
 * What one function's bundle weighs, bytes (serverless.yml splits lazily imported clients into chunks): the entry file,
 * what a cold start loads before the handler runs (the entry and the chunks it imports statically), and everything
 * reachable (every chunk a configuration could import).
 */
export interface BundleParts {
  entryBytes: number;
  initialBytes: number;
  reachableBytes: number;
  /** Chunk files reachable from the entry (relative to outdir), for what a function's package needs. */
  chunks: string[];
}

/** Bundles one entry like `bundleEntry` and reports its parts; `root` is the checkout to bundle (default this one). */
export async function bundleEntryParts(entry: string, outdir: string, root = REPO_ROOT): Promise<BundleParts> {
  const { options, extension } = await serverlessEsbuildOptions(root);
  const result = await build({
    ...options,
    absWorkingDir: root,
    entryPoints: [entry],
    outbase: root,
    outdir,
    outExtension: { '.js': extension },
    metafile: true,
    logLevel: 'silent',
  });
  const outputs = result.metafile.outputs;
  const main = Object.keys(outputs).find((file) => outputs[file]?.entryPoint === entry);
  if (main === undefined) throw new Error(`esbuild wrote no ${extension} file for ${entry}`);
  const closure = (kinds: readonly string[]): Set<string> => {
    const seen = new Set<string>([main]);
    for (const file of seen) for (const ref of outputs[file]?.imports ?? []) if (!ref.external && kinds.includes(ref.kind)) seen.add(ref.path);
    return seen;
  };
  const bytes = (files: Set<string>): number => [...files].reduce((sum, file) => sum + (outputs[file]?.bytes ?? 0), 0);
  const reachable = closure(['import-statement', 'dynamic-import']);
  return {
    entryBytes: outputs[main]?.bytes ?? 0,
    initialBytes: bytes(closure(['import-statement'])),
    reachableBytes: bytes(reachable),
    chunks: [...reachable].filter((file) => file !== main).map((file) => relative(outdir, resolve(root, file))),
  };
}

// serverless.yml uses CloudFormation short forms (!GetAtt, !Split); their values do not matter for bundling.
const cloudFormationTags = ['GetAtt', 'Split', 'Ref', 'Sub', 'Join', 'If', 'Equals', 'Not'].flatMap((name) => [
  { tag: `!${name}`, resolve: (value: unknown) => ({ [name]: value }) },
  { tag: `!${name}`, collection: 'seq' as const, resolve: (value: unknown) => ({ [name]: value }) },
]);

/** The npm packages (`name` or `@scope/name`) a function's bundle pulls in, from esbuild's metafile. */
export async function bundledPackages(name: string): Promise<Set<string>> {
  const { options, handlers } = await serverlessEsbuildOptions();
  const handler = handlers[name];
  if (handler === undefined) throw new Error(`serverless.yml has no function "${name}"`);
  const result = await build({
    ...options,
    absWorkingDir: REPO_ROOT,
    entryPoints: [`${handler.slice(0, handler.lastIndexOf('.'))}.ts`],
    outdir: join(REPO_ROOT, '.esbuild', 'metafile-only'),
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const packages = new Set<string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    if (match?.[1] !== undefined) packages.add(match[1]);
  }
  return packages;
}
