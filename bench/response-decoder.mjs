// The load clients' own HTTP/1.1 response decoding: the head, then the body de-chunked (chunked transfer coding) or,
// when the server did not chunk, read as it comes. Done here rather than by an HTTP client so the bench's harness is
// issue 17's independent one — raw TCP clients with their own chunked decoding — and costs little per frame: it works
// on latin1 strings (one char per byte), so lengths are byte counts.

/**
 * Returns `decode(text)`: feed it the socket's bytes (latin1) in any split, get back the body bytes they complete.
 * Calls `onHead(ok)` once the head is in (ok: status 200) and `onEnd()` at the last (zero-size) chunk.
 */
export function responseDecoder(onHead, onEnd) {
  let head = '';
  let inBody = false;
  let chunked = false;
  let ended = false;
  let chunkLeft = -1; // bytes left in the current chunk's data; -1: reading a chunk-size line; -2: the CRLF after data
  let sizeLine = '';
  const dechunk = (text) => {
    let body = '';
    let i = 0;
    while (i < text.length && !ended) {
      if (chunkLeft === -2) {
        // The CRLF that ends a chunk's data: skip it, also when it is split across reads.
        const end = text.indexOf('\n', i);
        if (end === -1) return body;
        i = end + 1;
        chunkLeft = -1;
      } else if (chunkLeft === -1) {
        const end = text.indexOf('\n', i);
        if (end === -1) { sizeLine += text.slice(i); return body; }
        chunkLeft = parseInt(sizeLine + text.slice(i, end), 16); // stops at a ';' extension and at the CR
        sizeLine = '';
        i = end + 1;
        if (!(chunkLeft > 0)) { ended = true; onEnd(); }
      } else {
        const take = Math.min(chunkLeft, text.length - i);
        body += text.slice(i, i + take);
        i += take;
        chunkLeft -= take;
        if (chunkLeft === 0) chunkLeft = -2;
      }
    }
    return body;
  };
  return (text) => {
    if (!inBody) {
      head += text;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return '';
      inBody = true;
      const ok = /^HTTP\/1\.[01] 200 /.test(head);
      chunked = /\r\ntransfer-encoding: *chunked/i.test(head.slice(0, end));
      text = head.slice(end + 4);
      head = '';
      onHead(ok);
    }
    return chunked ? dechunk(text) : text;
  };
}
