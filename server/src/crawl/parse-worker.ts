/**
 * A parser thread (parse-pool.ts starts it): pages read one after another, in the order they
 * came, each answered with its record (parse.ts). The body came transferred, and dies here.
 *
 * For tests only: with CRAWL_TEST_PARSE_CRASH set, a page whose body contains its value ends the
 * thread as a crash would, so that tests can see the page retried and the crawl go on.
 */
import { parentPort } from 'node:worker_threads';
import { extractLinks } from './links';
import { extractorOptions, fieldsOf, packPage, parsedPage, type PackedPage, type ParseRequest } from './parse';

export type ToParser = { id: number; request: ParseRequest };

export type FromParser = { id: number; page: PackedPage; error: null } | { id: number; page: null; error: string };

/** The exit code of a thread the test hook ended. */
export const CRASH_EXIT_CODE = 87;

const crashOn = process.env.CRAWL_TEST_PARSE_CRASH ? Buffer.from(process.env.CRAWL_TEST_PARSE_CRASH) : null;
const port = parentPort!;

port.on('message', ({ id, request }: ToParser) => {
  if (crashOn !== null && Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength).includes(crashOn)) process.exit(CRASH_EXIT_CODE);
  let reply: FromParser;
  try {
    reply = { id, page: packPage(parsedPage(extractLinks(request.body, request.url, extractorOptions(request)), fieldsOf(request.fields))), error: null };
  } catch (err) {
    reply = { id, page: null, error: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(reply);
});
