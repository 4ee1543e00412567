// Types of bench/response-decoder.mjs for the TypeScript tests that import it.
export declare function responseDecoder(onHead: (ok: boolean) => void, onEnd: () => void): (text: string) => string;
