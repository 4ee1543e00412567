// One load-generating process: holds many raw TCP subscribers, de-chunks their responses itself and scans the SSE lines
// (no HTTP client, no EventSource), so the generator costs far less per frame than the server under test.
// Driven by its parent over IPC (bench/load-process.mjs).
import { READ_BUFFER, scanEvents, serveLoad, tally } from './load-process.mjs';
import { responseDecoder } from './response-decoder.mjs';

/**
 * A reader for one socket's bytes: the response decoded by `responseDecoder` (head, chunked body), then SSE lines,
 * every `data:` line being one event. The last chunk ends the stream: `onEnd` closes it, which counts as a cut.
 */
function reader(onHead, onEnd) {
  const decode = responseDecoder(onHead, onEnd);
  let carry = ''; // the body's unfinished last line
  return (length) => {
    tally.bytes += length;
    carry = scanEvents(carry + decode(READ_BUFFER.latin1Slice(0, length)));
  };
}

serveLoad(reader);
