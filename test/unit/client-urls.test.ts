// URLs typed or pasted into Start Crawl and Enqueue URLs, validated as the user types.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeUrlInput, parseUrlList } from '../../client/src/urls';

test('spaces, commas and line breaks separate URLs; duplicates are dropped', () => {
  assert.deepEqual(parseUrlList('https://a.test/1, https://a.test/2\nhttp://b.test/ https://a.test/1'), {
    urls: ['https://a.test/1', 'https://a.test/2', 'http://b.test/'],
    problems: [],
  });
});

test('a multi-line paste whose line breaks the input dropped still splits where each URL begins', () => {
  assert.deepEqual(parseUrlList('https://a.test/1https://a.test/2http://b.test/x').urls, ['https://a.test/1', 'https://a.test/2', 'http://b.test/x']);
});

test('each bad entry says what is wrong', () => {
  const { urls, problems } = parseUrlList('example.com ftp://x.test/ https://ok.test/ ' + `https://l.test/${'a'.repeat(9000)}`);
  assert.deepEqual(urls, ['https://ok.test/']);
  assert.equal(problems[0], '"example.com" is not an absolute URL (it needs http:// or https://)');
  assert.equal(problems[1], 'ftp://x.test/: only http and https URLs can be crawled, not ftp');
  assert.match(problems[2], /is longer than 8192 bytes$/);
});

test('the live verdict: an error for the first problem, else how many URLs', () => {
  assert.deepEqual(describeUrlInput(''), { error: 'Enter at least one http:// or https:// URL' });
  const three = 'https://a.test/1 https://a.test/2 https://a.test/3';
  assert.deepEqual(describeUrlInput(three, { count: 2, what: 'at most 2 seeds' }), { error: '3 URLs: at most 2 seeds' });
  assert.deepEqual(describeUrlInput(three, { count: 3, what: 'at most 3 seeds' }), { info: '3 URLs' });
  assert.deepEqual(describeUrlInput('https://a.test/ nope also-bad'), { error: '"nope" is not an absolute URL (it needs http:// or https://) (and 1 more)' });
  assert.deepEqual(describeUrlInput('https://a.test/'), { info: '1 URL' });
  assert.deepEqual(describeUrlInput('https://a.test/ https://b.test/'), { info: '2 URLs' });
});
