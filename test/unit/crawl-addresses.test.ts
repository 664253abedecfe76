import * as assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { AddressCheck, classifyAddress, policyOfSeeds, refusal } from '../../server/src/crawl/addresses';
import { FetchError, Fetcher } from '../../server/src/crawl/fetcher';
import { crawler, QUICK } from './helpers/crawler';
import { page, startHost, text, type TestHost } from './helpers/testsite';

const hosts: TestHost[] = [];
after(() => Promise.all(hosts.map((h) => h.close())));
async function host(ip: string, routes: Parameters<typeof startHost>[1]) {
  const h = await startHost(ip, routes, 0);
  hosts.push(h);
  return h;
}

describe('address kinds', () => {
  test('every spelling of a non-public address is known for what it is', () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['::1', 'loopback'],
      ['[::1]', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['64:ff9b::7f00:1', 'loopback'],
      ['2002:7f00:1::', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['::', 'unspecified'],
      ['10.0.0.1', 'private'],
      ['172.16.5.4', 'private'],
      ['192.168.1.1', 'private'],
      ['::ffff:192.168.1.1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['fd00::1', 'unique local (private)'],
      ['100.64.0.1', 'shared (carrier-grade NAT)'],
      ['224.0.0.1', 'multicast'],
      ['255.255.255.255', 'reserved'],
    ];
    for (const [ip, word] of cases) assert.deepEqual(classifyAddress(ip), { kind: 'private', word }, ip);
    for (const ip of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '172.32.0.1', '100.128.0.1']) {
      assert.deepEqual(classifyAddress(ip), { kind: 'public', word: 'public' }, ip);
    }
    assert.throws(() => classifyAddress('localhost'), /not an IP address/);
  });

  test('the URL parser turns the other spellings of loopback into these', () => {
    for (const spelling of ['0x7f000001', '2130706433', '127.1', '0177.0.0.1', '[::ffff:127.0.0.1]', '[0:0:0:0:0:0:0:1]']) {
      const { hostname } = new URL(`http://${spelling}/`);
      assert.equal(classifyAddress(hostname).word, 'loopback', `${spelling} → ${hostname}`);
    }
  });

  test('a refusal names the address, its kind and the policy', () => {
    assert.equal(
      refusal('169.254.169.254', 'public'),
      '169.254.169.254 is a link-local address; this crawl connects to public addresses only (addresses: public)',
    );
    assert.equal(
      refusal('8.8.8.8', 'private'),
      '8.8.8.8 is a public address; this crawl connects to loopback, private and link-local addresses only (addresses: private)',
    );
    assert.equal(refusal('::1', 'private'), null);
    assert.equal(refusal('8.8.8.8', 'public'), null);
    assert.equal(refusal('127.0.0.1', 'any'), null);
  });

  test("a crawl's default policy is its seeds' kind", async () => {
    const lookup = async (host: string) =>
      (({ 'intranet.example': ['10.1.2.3'], 'www.example': ['93.184.216.34'], 'both.example': ['93.184.216.34', '10.0.0.1'] }) as Record<string, string[]>)[
        host
      ] ?? [];
    assert.equal(await policyOfSeeds(['127.0.0.2', 'localhost', 'app.localhost', '[::1]'], lookup), 'private');
    assert.equal(await policyOfSeeds(['intranet.example'], lookup), 'private');
    assert.equal(await policyOfSeeds(['www.example', '8.8.8.8'], lookup), 'public');
    assert.equal(await policyOfSeeds(['www.example', '127.0.0.2'], lookup), 'any');
    assert.equal(await policyOfSeeds(['both.example'], lookup), 'any');
    assert.equal(await policyOfSeeds(['unresolvable.example'], lookup), 'public', 'a name that does not resolve counts as public');
  });

  test('the early check refuses a name only when all its addresses are refused, and caches lookups briefly', async () => {
    let lookups = 0;
    let now = 0;
    const check = new AddressCheck(
      async (host) => {
        lookups++;
        return ({ 'rebind.example': ['127.0.0.1', '::1'], 'both.example': ['93.184.216.34', '10.0.0.1'] } as Record<string, string[]>)[host] ?? [];
      },
      () => now,
    );
    assert.equal(
      await check.refusal('rebind.example', 'public'),
      'rebind.example resolves to 127.0.0.1 (loopback), ::1 (loopback); this crawl connects to public addresses only (addresses: public)',
    );
    assert.equal(await check.refusal('both.example', 'public'), null, 'one allowed address is enough: the connection is made to it');
    assert.equal(await check.refusal('nowhere.example', 'public'), null, 'the fetch says why a name does not resolve');
    assert.equal(await check.refusal('[::1]', 'public'), '::1 is a loopback address; this crawl connects to public addresses only (addresses: public)');
    assert.equal(await check.refusal('rebind.example', 'any'), null);
    assert.equal(lookups, 3);
    await check.refusal('rebind.example', 'public');
    assert.equal(lookups, 3, 'cached');
    now += 61_000;
    await check.refusal('rebind.example', 'public');
    assert.equal(lookups, 4, 'looked up again after a minute');
  });
});

describe('connecting', () => {
  test('the fetcher refuses a refused address before connecting, whatever its spelling or name', async () => {
    const h = await host('127.0.0.2', { '/': text('hello') });
    const port = new URL(h.origin).port;
    const fetcher = new Fetcher({ ...QUICK, userAgent: 'test', maxBodyBytes: 1 << 20, maxRedirects: 3 } as never);
    after(() => fetcher.close());
    for (const spelling of ['127.0.0.2', '0x7f000002', '2130706434', '127.2', '[::ffff:127.0.0.2]', 'localhost', '0.0.0.0']) {
      const err = await fetcher.fetch(`http://${spelling}:${port}/`, { addresses: 'public' }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof FetchError, `${spelling}: refused`);
      assert.equal(err.code, 'address');
      assert.equal(err.retryable, false);
      assert.match(err.message, /(loopback|unspecified)\b.*public addresses only \(addresses: public\)$/, spelling);
    }
    assert.equal(h.hits.size, 0, 'no request reached the server');
    const ok = await fetcher.fetch(`http://0x7f000002:${port}/`, { addresses: 'private' });
    assert.equal(ok.body.toString(), 'hello');
    assert.equal((await fetcher.fetch(`http://127.0.0.2:${port}/`)).status, 200, 'no policy: any address');
  });

  test('a pooled connection made under one policy does not serve another', async () => {
    const h = await host('127.0.0.2', { '/': text('pooled') });
    const fetcher = new Fetcher({ ...QUICK, userAgent: 'test', maxBodyBytes: 1 << 20, maxRedirects: 3 } as never);
    after(() => fetcher.close());
    assert.equal((await fetcher.fetch(h.url('/'), { addresses: 'any' })).status, 200);
    await assert.rejects(fetcher.fetch(h.url('/'), { addresses: 'public' }), (e: unknown) => e instanceof FetchError && e.code === 'address');
    assert.equal(h.hits.get('/'), 1);
  });
});

describe('crawls', () => {
  test('a crawl seeded on loopback may reach loopback in every spelling; one that may not sends nothing', async () => {
    const other = await host('127.0.0.3', { '/robots.txt': text(''), '/': page([]) });
    const port = new URL(other.origin).port;
    const a = await host('127.0.0.2', {
      '/robots.txt': text(''),
      '/': page([`http://0x7f000003:${port}/`, `http://2130706435:${port}/x`]),
    });
    const cr = crawler();
    const local = await cr.run({ seeds: [a.url('/')], scope: 'any' });
    assert.equal(local.options.addresses, 'private', "the seeds' kind");
    assert.equal(local.counts.done, 2);
    assert.equal(other.hits.get('/'), 1);

    const before = a.hits.get('/') ?? 0;
    const strict = await cr.run({ seeds: [a.url('/x')], addresses: 'public' });
    assert.equal(strict.options.addresses, 'public');
    assert.equal(strict.counts.skipped, 1);
    const seed = await cr.byUrl(strict.id, a.url('/x'));
    assert.equal(seed.job.lastError, '127.0.0.2 is a loopback address; this crawl connects to public addresses only (addresses: public)');
    assert.equal(a.hits.get('/x'), undefined, 'the page was not requested');
    assert.equal(a.hits.get('/') ?? 0, before);
    assert.equal(a.hits.get('/robots.txt'), 1, 'nor robots.txt again (it was read once, by the first crawl)');
  });

  test('a daemon setting gives crawls that set none their policy', async () => {
    const a = await host('127.0.0.2', { '/robots.txt': text(''), '/': page([]) });
    const cr = crawler({ settings: { defaultAddresses: 'public' } });
    const crawl = await cr.run({ seeds: [a.url('/')] });
    assert.equal(crawl.options.addresses, 'public');
    assert.equal(crawl.counts.skipped, 1);
    assert.equal(a.hits.size, 0, 'nothing was sent, robots.txt included');
  });
});
