import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  parseRobots,
  productToken,
  Robots,
  robotsFromStatus,
  ROBOTS_MAX_BYTES,
  ROBOTS_MAX_LINE_BYTES,
  ROBOTS_MAX_RULES,
  ROBOTS_VERDICT_STEPS,
} from '../../server/src/crawl/robots';
import { MAX_URL_BYTES } from '../../server/src/crawl/url';
import { answersWithin } from './helpers/deadline';
import { checkSync } from './helpers/fuzz';

const UA = 'CrawlOrchestrator/0.1 (+https://example.invalid/bot)';

function verdicts(robots: Robots, ua: string, paths: string[]): Record<string, boolean> {
  return Object.fromEntries(paths.map((p) => [p, robots.verdict(p, ua).allowed]));
}

describe('robots.txt matching', () => {
  it('the longest matching rule wins, whichever kind it is', () => {
    const r = Robots.parse('User-agent: *\nDisallow: /a\nAllow: /a/b\nDisallow: /a/b/secret\n');
    assert.deepEqual(r.verdict('https://example.com/a/c', UA), { allowed: false, rule: 'Disallow: /a' });
    assert.deepEqual(r.verdict('https://example.com/a/b/c', UA), { allowed: true, rule: 'Allow: /a/b' });
    assert.deepEqual(r.verdict('https://example.com/a/b/secret.html', UA), { allowed: false, rule: 'Disallow: /a/b/secret' });
    assert.deepEqual(r.verdict('https://example.com/other', UA), { allowed: true, rule: null });
  });

  it('order in the file does not matter', () => {
    const r = Robots.parse('User-agent: *\nAllow: /\nDisallow: /private\n');
    assert.deepEqual(r.verdict('/private/x', UA), { allowed: false, rule: 'Disallow: /private' });
    assert.deepEqual(r.verdict('/public', UA), { allowed: true, rule: 'Allow: /' });
  });

  it('Allow wins a tie in length', () => {
    const r = Robots.parse('User-agent: *\nDisallow: /page\nAllow: /page\nDisallow: /*.ph\nAllow: /x.p*\n');
    assert.deepEqual(r.verdict('/page', UA), { allowed: true, rule: 'Allow: /page' });
    assert.deepEqual(r.verdict('/x.php', UA), { allowed: true, rule: 'Allow: /x.p*' });
    assert.deepEqual(r.verdict('/y.php', UA), { allowed: false, rule: 'Disallow: /*.ph' });
  });

  it('* matches any run of characters, including across / and ?', () => {
    const r = Robots.parse('User-agent: *\nDisallow: /*.pdf\nDisallow: /*?sid=\nDisallow: /a*b*c\n');
    assert.deepEqual(verdicts(r, UA, ['/docs/x.pdf', '/x.pdf?download=1', '/pdf', '/p?sid=2&x=1', '/p?x=1&sid=2', '/p?x=1', '/a/1/b/2/c', '/a/c']), {
      '/docs/x.pdf': false,
      '/x.pdf?download=1': false,
      '/pdf': true,
      '/p?sid=2&x=1': false,
      '/p?x=1&sid=2': true,
      '/p?x=1': true,
      '/a/1/b/2/c': false,
      '/a/c': true,
    });
  });

  it('$ anchors the end of the path and query; elsewhere it is literal', () => {
    const r = Robots.parse('User-agent: *\nDisallow: /*.gif$\nDisallow: /exact$\nDisallow: /price$list\n');
    assert.deepEqual(verdicts(r, UA, ['/a.gif', '/a.gif?x=1', '/a.gifs', '/exact', '/exact/', '/price$list/x', '/price']), {
      '/a.gif': false,
      '/a.gif?x=1': true,
      '/a.gifs': true,
      '/exact': false,
      '/exact/': true,
      '/price$list/x': false,
      '/price': true,
    });
  });

  it('compares rules and URLs in canonical percent-encoding', () => {
    const r = Robots.parse('User-agent: *\nDisallow: /%7euser\nDisallow: /ü\nDisallow: /a%2fb\nDisallow: /sp ace\n');
    assert.equal(r.verdict('https://example.com/~user/page', UA).allowed, false);
    assert.equal(r.verdict('https://example.com/%C3%BC/x', UA).allowed, false);
    assert.equal(r.verdict('https://example.com/ü', UA).allowed, false);
    assert.equal(r.verdict('https://example.com/a%2Fb', UA).allowed, false);
    assert.equal(r.verdict('https://example.com/a/b', UA).allowed, true, 'an escaped / is not a path separator');
    assert.deepEqual(r.verdict('https://example.com/sp%20ace', UA), { allowed: false, rule: 'Disallow: /sp ace' });
  });

  it('an empty Disallow disallows nothing', () => {
    const r = Robots.parse('User-agent: *\nDisallow:\n');
    assert.deepEqual(r.verdict('/anything', UA), { allowed: true, rule: null });
  });

  it('/robots.txt is always allowed', () => {
    const r = Robots.parse('User-agent: *\nDisallow: /\n');
    assert.equal(r.verdict('/index.html', UA).allowed, false);
    assert.deepEqual(r.verdict('https://example.com/robots.txt', UA), { allowed: true, rule: '/robots.txt is always allowed' });
  });

  it('reads a rule without a leading slash as rooted', () => {
    const r = Robots.parse('User-agent: *\nDisallow: tmp/\n');
    assert.deepEqual(r.verdict('/tmp/x', UA), { allowed: false, rule: 'Disallow: tmp/' });
  });

  it('refuses URLs it cannot crawl', () => {
    const r = Robots.parse('');
    assert.deepEqual(r.verdict('mailto:x@example.com', UA), { allowed: false, rule: 'not a crawlable URL' });
  });

  it('reads consecutive stars as one, $ only at the very end as the anchor, and a lone $ as the root', () => {
    const r = Robots.parse('User-agent: *\nDisallow: /a**b$\nDisallow: /c$d$\nDisallow: /e*$*\nDisallow: $\nDisallow: /f*$\n');
    assert.deepEqual(verdicts(r, UA, ['/ab', '/axyb', '/ab/', '/c$d', '/c$dx', '/cd', '/e$', '/e$x', '/ex', '/', '/f', '/f/x']), {
      '/ab': false,
      '/axyb': false,
      '/ab/': true,
      '/c$d': false,
      '/c$dx': true,
      '/cd': true,
      '/e$': false,
      '/e$x': false,
      '/ex': true,
      '/': false,
      '/f': false,
      '/f/x': false,
    });
    assert.deepEqual(r.verdict('/', UA), { allowed: false, rule: 'Disallow: $' });
  });

  it('gives the verdict of a longest-match reference, on random rules and paths', () => {
    // Google's matcher: the set of path positions each prefix of the pattern can end at.
    const matches = (pattern: string, path: string): boolean => {
      const anchored = pattern.endsWith('$');
      let ends = [0];
      for (const ch of anchored ? pattern.slice(0, -1) : pattern) {
        ends =
          ch === '*'
            ? ends.length === 0
              ? []
              : Array.from({ length: path.length - ends[0] + 1 }, (_, i) => ends[0] + i)
            : ends.filter((e) => path[e] === ch).map((e) => e + 1);
      }
      return anchored ? ends.includes(path.length) : ends.length > 0;
    };
    const rule = fc.record({
      allow: fc.boolean(),
      pattern: fc.array(fc.constantFrom('/', 'a', 'b', '*', '$'), { maxLength: 7 }).map((a) => '/' + a.join('')),
    });
    const path = fc.array(fc.constantFrom('/', 'a', 'b', '$'), { maxLength: 9 }).map((a) => '/' + a.join(''));
    checkSync(
      fc.property(fc.array(rule, { maxLength: 6 }), fc.array(path, { minLength: 1, maxLength: 4 }), (rules, paths) => {
        const r = Robots.parse('User-agent: *\n' + rules.map((x) => `${x.allow ? 'Allow' : 'Disallow'}: ${x.pattern}\n`).join(''));
        for (const p of paths) {
          let best: { allow: boolean; pattern: string } | null = null;
          for (const x of rules) {
            if (!matches(x.pattern, p)) continue;
            if (best === null || x.pattern.length > best.pattern.length || (x.pattern.length === best.pattern.length && x.allow)) best = x;
          }
          const v = r.verdict(p, UA);
          assert.equal(v.allowed, best === null || best.allow, `${p} against ${JSON.stringify(rules)}`);
          assert.equal(v.rule?.replace(/^(Allow|Disallow): /, '').length ?? null, best?.pattern.length ?? null, `${p}: the deciding rule's length`);
        }
      }),
      1500,
    );
  });
});

describe('robots.txt groups', () => {
  const file = [
    'User-agent: *',
    'Disallow: /',
    '',
    'User-agent: CrawlOrchestrator',
    'Disallow: /private',
    '',
    'User-agent: crawlorchestrator-news',
    'Disallow: /news',
  ].join('\n');

  it('extracts the product token of a User-Agent', () => {
    assert.equal(productToken(UA), 'crawlorchestrator');
    assert.equal(productToken('  *  '), '*');
    assert.equal(productToken('Mozilla/5.0'), 'mozilla');
    assert.equal(productToken('/x'), '');
  });

  it('picks our group case-insensitively over *', () => {
    const r = Robots.parse(file);
    assert.deepEqual(r.verdict('/public', UA), { allowed: true, rule: null });
    assert.deepEqual(r.verdict('/private', 'crawlORCHESTRATOR'), { allowed: false, rule: 'Disallow: /private' });
  });

  it('prefers the most specific matching token', () => {
    const r = Robots.parse(file);
    assert.equal(r.verdict('/private', 'CrawlOrchestrator-News/2.0').allowed, true);
    assert.deepEqual(r.verdict('/news/today', 'CrawlOrchestrator-News/2.0'), { allowed: false, rule: 'Disallow: /news' });
    assert.deepEqual(r.verdict('/private', 'CrawlOrchestrator-Images'), { allowed: false, rule: 'Disallow: /private' });
  });

  it('falls back to * and then to allowing everything', () => {
    assert.deepEqual(Robots.parse(file).verdict('/x', 'OtherBot/1.0'), { allowed: false, rule: 'Disallow: /' });
    assert.deepEqual(Robots.parse('User-agent: SomeoneElse\nDisallow: /\n').verdict('/x', UA), { allowed: true, rule: null });
    assert.equal(Robots.parse(file).verdict('/x', 'CrawlOrchestratorX').allowed, false, 'a token must match whole, not as a bare prefix');
  });

  it('consecutive user-agent lines share one group', () => {
    const r = Robots.parse('User-agent: a\nUser-agent: CrawlOrchestrator\nDisallow: /x\n\nUser-agent: b\nDisallow: /y\n');
    assert.equal(r.verdict('/x', UA).allowed, false);
    assert.equal(r.verdict('/y', UA).allowed, true);
    assert.equal(r.verdict('/x', 'a').allowed, false);
    assert.equal(r.verdict('/y', 'b').allowed, false);
  });

  it('merges groups naming the same agent', () => {
    const r = Robots.parse('User-agent: crawlorchestrator\nDisallow: /a\n\nUser-agent: *\nDisallow: /\n\nUser-agent: CRAWLORCHESTRATOR\nDisallow: /b\n');
    assert.deepEqual(verdicts(r, UA, ['/a', '/b', '/c']), { '/a': false, '/b': false, '/c': true });
  });

  it('ignores rules before any user-agent line and tolerates garbage, BOM and CRLF', () => {
    const body =
      '\uFEFFDisallow: /orphan\r\nUser-agent: *\r\n<html><body>oops</body></html>\r\nthis line has no colon\r\nDisallow: /x # trailing comment\r\n# Disallow: /commented\rDisallow:/y\r\nUnknown-field: z\r\n';
    const r = Robots.parse(Buffer.from(body, 'utf8'));
    assert.deepEqual(verdicts(r, UA, ['/orphan', '/x', '/commented', '/y', '/z']), {
      '/orphan': true,
      '/x': false,
      '/commented': true,
      '/y': false,
      '/z': true,
    });
  });

  it('reads only the first 500 KiB', () => {
    const head = 'User-agent: *\nDisallow: /early\n';
    const padding = ('#' + 'x'.repeat(99) + '\n').repeat(Math.ceil(ROBOTS_MAX_BYTES / 100));
    const r = Robots.parse(head + padding + 'Disallow: /late\n');
    assert.equal(ROBOTS_MAX_BYTES, 512000);
    assert.equal(r.verdict('/early', UA).allowed, false);
    assert.equal(r.verdict('/late', UA).allowed, true);
  });

  it('parses into plain data', () => {
    assert.deepEqual(parseRobots('User-agent: A/1\nUser-agent: *\nAllow: /a\nDisallow: /b\nCrawl-delay: 4\nUser-agent: c\nDisallow:\n'), {
      v: 1,
      kind: 'rules',
      groups: [
        {
          agents: ['a', '*'],
          rules: [
            { allow: true, pattern: '/a' },
            { allow: false, pattern: '/b' },
          ],
          crawlDelay: 4,
        },
        { agents: ['c'], rules: [], crawlDelay: null },
      ],
      sitemaps: [],
    });
  });

  it('collects sitemaps', () => {
    const r = Robots.parse('Sitemap: https://example.com/sitemap.xml\nUser-agent: *\nSitemap: https://example.com/news.xml\nDisallow: /x\n');
    assert.deepEqual(r.sitemaps, ['https://example.com/sitemap.xml', 'https://example.com/news.xml']);
    assert.equal(r.verdict('/x', UA).allowed, false, 'a sitemap line does not end the user-agent list');
  });
});

describe('robots.txt bounds', () => {
  it("reads only the first 16,663 bytes of a line, as Google's parser does, cut between characters", () => {
    assert.equal(ROBOTS_MAX_LINE_BYTES, 16_663);
    const prefix = 'Disallow: /';
    const rules = parseRobots(
      `User-agent: *\n${prefix}${'a'.repeat(20_000)}\n${prefix}${'€'.repeat(6_000)}\n${prefix}x${' '.repeat(17_000)}/y\nDisallow: /next\n`,
    );
    assert.equal(rules.kind, 'rules');
    assert.deepEqual(
      rules.groups[0].rules.map((x) => x.pattern),
      [
        '/' + 'a'.repeat(ROBOTS_MAX_LINE_BYTES - prefix.length),
        // € is 3 bytes: 5,550 of them fill 16,650 bytes after the prefix's 11; the 5,551st would not fit.
        '/' + '€'.repeat(5_550),
        '/x',
        '/next',
      ],
    );
  });

  it("keeps the first ROBOTS_MAX_RULES rules of each group: other bots' rules cannot crowd out ours", () => {
    const body =
      'User-agent: other\n' +
      'Disallow: /o\n'.repeat(ROBOTS_MAX_RULES + 5) +
      'User-agent: *\n' +
      'Allow: /a\n'.repeat(ROBOTS_MAX_RULES - 1) +
      'Disallow: /kept\nDisallow: /dropped\n';
    const data = parseRobots(body);
    assert.equal(data.kind, 'rules');
    assert.deepEqual(
      data.groups.map((g) => g.rules.length),
      [ROBOTS_MAX_RULES, ROBOTS_MAX_RULES],
    );
    const r = Robots.parse(body);
    assert.deepEqual(verdicts(r, UA, ['/kept', '/dropped']), { '/kept': false, '/dropped': true });
  });

  const HOST = 'http://127.0.0.2';
  const longUrl = (tail = '') => HOST + '/' + 'a'.repeat(MAX_URL_BYTES - HOST.length - 1 - tail.length) + tail;
  const robotsJs = require.resolve('../../server/src/crawl/robots');
  /** Verdicts in a worker thread, given up on after 20 s: with backtracking they took 12 s to 27 s each. */
  const verdictsInWorker = (body: string, urls: string[]) =>
    answersWithin(
      20_000,
      (d) => {
        const { Robots: R } = require(d.robotsJs) as typeof import('../../server/src/crawl/robots');
        const robots = R.parse(d.body);
        return d.urls.map((u) => robots.verdict(u, d.ua));
      },
      { robotsJs, body, urls, ua: UA },
    );

  it('answers for a file of long starred rules in bounded work, with the verdict the rules give', async () => {
    // The attack review's file: 120 rules of 4,000 characters after a star, under the 500 KiB cap.
    const body = 'User-agent: *\n' + Array.from({ length: 120 }, (_, i) => `Disallow: /*${'a'.repeat(4000)}b${i}\n`).join('');
    assert.ok(Buffer.byteLength(body) < ROBOTS_MAX_BYTES);
    const urls = [...Array.from({ length: 5 }, (_, i) => longUrl('a'.repeat(i))), longUrl('b7')];
    assert.ok(urls.every((u) => Buffer.byteLength(u) === MAX_URL_BYTES));
    assert.deepEqual(await verdictsInWorker(body, urls), [
      ...Array(5).fill({ allowed: true, rule: null }),
      { allowed: false, rule: `Disallow: /*${'a'.repeat(4000)}b7` },
    ]);
  });

  it('stops a verdict over many short starred rules at the step budget, and disallows the URL saying why', async () => {
    let body = 'User-agent: *\n';
    for (let i = 0; body.length < ROBOTS_MAX_BYTES - 100; i++) body += `Disallow: /*a*a*a*a*${'a'.repeat(24)}b${i}\n`;
    const tooCostly = { allowed: false, rule: `rules too costly to match against this URL (over ${ROBOTS_VERDICT_STEPS} steps); disallowed to be safe` };
    // Rules are tried longest first, so the first of the longest (b1000) decides before the budget is spent.
    assert.deepEqual(await verdictsInWorker(body, [longUrl(), longUrl('x'), longUrl('b1000')]), [
      tooCostly,
      tooCostly,
      { allowed: false, rule: `Disallow: /*a*a*a*a*${'a'.repeat(24)}b1000` },
    ]);
  });

  it('never reaches the step budget with a large ordinary file, even against an 8 KiB URL', () => {
    // As many rules as are kept: paths, and 200 rules starting with a star that read the whole URL.
    const rules = [
      ...Array.from({ length: ROBOTS_MAX_RULES - 200 }, (_, i) => `Disallow: /catalog/item-${i}/reviews`),
      ...Array.from({ length: 200 }, (_, i) => `Disallow: /*?filter${i}=`),
    ];
    const r = Robots.parse('User-agent: *\n' + rules.join('\n') + '\n');
    const url = HOST + '/catalog/' + 'item-1/page/'.repeat(600);
    assert.ok(Buffer.byteLength(url) > MAX_URL_BYTES - 1000 && Buffer.byteLength(url) <= MAX_URL_BYTES);
    assert.deepEqual(r.verdict(url, UA), { allowed: true, rule: null });
    assert.deepEqual(r.verdict(url + '?filter150=x', UA), { allowed: false, rule: 'Disallow: /*?filter150=' });
    assert.deepEqual(r.verdict(HOST + '/catalog/item-9000/reviews?page=2', UA), { allowed: false, rule: 'Disallow: /catalog/item-9000/reviews' });
  });
});

describe('crawl-delay', () => {
  const r = Robots.parse(
    'User-agent: *\nCrawl-delay: 2.5\n\nUser-agent: crawlorchestrator\nCrawl-delay: 120\nDisallow: /x\n\nUser-agent: slowbot\nCrawl-delay: soon\nCrawl-delay: .5\n',
  );

  it('is read for the selected group and capped by the caller', () => {
    assert.equal(r.crawlDelayMs(UA, 30_000), 30_000);
    assert.equal(r.crawlDelayMs(UA, 600_000), 120_000);
    assert.equal(r.crawlDelayMs('OtherBot', 30_000), 2_500);
  });

  it('skips unparsable values', () => {
    assert.equal(r.crawlDelayMs('slowbot', 30_000), 500);
    assert.equal(Robots.parse('User-agent: *\nCrawl-delay: -3\n').crawlDelayMs(UA, 30_000), null);
    assert.equal(Robots.parse('User-agent: *\nDisallow: /\n').crawlDelayMs(UA, 30_000), null);
  });
});

describe('robots.txt status policy', () => {
  it('maps statuses per RFC 9309', () => {
    assert.deepEqual(robotsFromStatus(200), { action: 'parse' });
    assert.deepEqual(robotsFromStatus(204), { action: 'parse' });
    for (const s of [400, 401, 403, 404, 410]) assert.equal(robotsFromStatus(s).action, 'allow_all', String(s));
    for (const s of [429, 500, 502, 503, 599]) {
      assert.deepEqual(robotsFromStatus(s), { action: 'disallow_all', reason: `robots.txt returned ${s}`, retry: true });
    }
    assert.deepEqual(robotsFromStatus(null), { action: 'disallow_all', reason: 'robots.txt unreachable', retry: true });
    assert.equal(robotsFromStatus(310).action, 'allow_all');
  });

  it('Robots.fromResponse applies the policy', () => {
    const gone = Robots.fromResponse(404, 'User-agent: *\nDisallow: /\n');
    assert.deepEqual(gone.verdict('/x', UA), { allowed: true, rule: 'robots.txt returned 404' });
    assert.equal(gone.retryLater, false);

    const down = Robots.fromResponse(503);
    assert.deepEqual(down.verdict('/x', UA), { allowed: false, rule: 'robots.txt returned 503' });
    assert.equal(down.verdict('/robots.txt', UA).allowed, true);
    assert.equal(down.retryLater, true);
    assert.equal(down.crawlDelayMs(UA, 1000), null);

    const unreachable = Robots.fromResponse(null);
    assert.deepEqual(unreachable.verdict('/x', UA), { allowed: false, rule: 'robots.txt unreachable' });

    const ok = Robots.fromResponse(200, 'User-agent: *\nDisallow: /x\n');
    assert.equal(ok.verdict('/x', UA).allowed, false);
    assert.equal(ok.retryLater, false);
  });
});

describe('robots.txt serialization', () => {
  it('round-trips through JSON with the same verdicts', () => {
    const original = Robots.parse(
      'User-agent: *\nDisallow: /\n\nUser-agent: crawlorchestrator\nAllow: /a/b$\nDisallow: /a\nCrawl-delay: 3\nSitemap: https://example.com/s.xml\n',
    );
    const restored = Robots.fromJSON(JSON.parse(JSON.stringify(original)));
    for (const path of ['/a', '/a/b', '/a/b/c', '/z']) {
      for (const ua of [UA, 'OtherBot']) assert.deepEqual(restored.verdict(path, ua), original.verdict(path, ua), `${ua} ${path}`);
    }
    assert.equal(restored.crawlDelayMs(UA, 60_000), 3000);
    assert.deepEqual(restored.sitemaps, ['https://example.com/s.xml']);
    assert.deepEqual(restored.toJSON(), original.toJSON());
  });

  it('round-trips whole-site policies', () => {
    const restored = Robots.fromJSON(JSON.parse(JSON.stringify(Robots.fromResponse(500))));
    assert.deepEqual(restored.verdict('/x', UA), { allowed: false, rule: 'robots.txt returned 500' });
    assert.equal(restored.retryLater, true);
  });

  it('rejects data it did not produce', () => {
    assert.throws(() => Robots.fromJSON({}), TypeError);
    assert.throws(() => Robots.fromJSON({ v: 2, kind: 'allow_all', reason: 'x' }), TypeError);
    assert.throws(
      () => Robots.fromJSON({ v: 1, kind: 'rules', groups: [{ agents: ['*'], rules: [{ allow: 'no', pattern: '/' }], crawlDelay: null }], sitemaps: [] }),
      TypeError,
    );
  });
});
