import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Glob, type GlobWork } from '../../server/src/crawl/glob';
import { compileScope, globMatch, ScopeError } from '../../server/src/crawl/scope';
import { canonicalEscapes, hostOf, MAX_URL_BYTES, normalizeUrl, originOf, PATH_LITERALS, requestTarget } from '../../server/src/crawl/url';
import { answersWithin } from './helpers/deadline';
import { checkSync } from './helpers/fuzz';

describe('normalizeUrl', () => {
  const accepted: [input: string, expected: string, base?: string][] = [
    ['HTTP://Example.COM/Path', 'http://example.com/Path'],
    ['http://example.com', 'http://example.com/'],
    ['http://example.com:80/a', 'http://example.com/a'],
    ['https://example.com:443/', 'https://example.com/'],
    ['http://example.com:8080/', 'http://example.com:8080/'],
    ['https://example.com:80/', 'https://example.com:80/'],
    ['http://example.com/a#section', 'http://example.com/a'],
    ['http://example.com/a?x=1#section', 'http://example.com/a?x=1'],
    // The fragment is cut at the href's first '#': a '?' or '#' after it is the fragment's, '#' before it escaped.
    ['http://example.com/a#s?x=1#t', 'http://example.com/a'],
    ['http://example.com/a?#', 'http://example.com/a?'],
    ['http://u%23:p@example.com/a%23?q=%23#f', 'http://u%23:p@example.com/a%23?q=%23'],
    ['http://example.com/a/./b/../c', 'http://example.com/a/c'],
    ['http://example.com/a/%2e%2E/b', 'http://example.com/b'],
    ['http://example.com/../../a', 'http://example.com/a'],
    ['http://example.com/%7Euser/%7e', 'http://example.com/~user/~'],
    ['http://example.com/%41%62c%2D%5f%2E', 'http://example.com/Abc-_.'],
    ['http://example.com/a%2fb%3a', 'http://example.com/a%2Fb%3A'],
    ['http://example.com/a b', 'http://example.com/a%20b'],
    ['http://example.com/a|b^c[d]{e}`', 'http://example.com/a%7Cb%5Ec%5Bd%5D%7Be%7D%60'],
    ['http://example.com/100%/%zz', 'http://example.com/100%25/%25zz'],
    ['http://example.com/café', 'http://example.com/caf%C3%A9'],
    ['http://example.com/%e2%82%ac', 'http://example.com/%E2%82%AC'],
    ['http://Bücher.Example/', 'http://xn--bcher-kva.example/'],
    ['http://example.com/dir/', 'http://example.com/dir/'],
    ['http://example.com/dir', 'http://example.com/dir'],
    ['http://example.com/?', 'http://example.com/?'],
    ['http://example.com/p?b=2&a=1&a=1', 'http://example.com/p?b=2&a=1&a=1'],
    ['http://example.com/p?q=%7e%2f%3d%41', 'http://example.com/p?q=~%2F%3DA'],
    ['http://example.com/p?q=a b&r=<x>|^', 'http://example.com/p?q=a%20b&r=%3Cx%3E%7C%5E'],
    ['http://example.com/p?next=/a?b', 'http://example.com/p?next=/a?b'],
    ['http://0x7f.0.0.1/', 'http://127.0.0.1/'],
    ['http://[::1]:80/x', 'http://[::1]/x'],
    ['  http://example.com/a\tb\n  ', 'http://example.com/ab'],
    ['http://example.com\\a\\b', 'http://example.com/a/b'],
    ['http://user:pw@Example.com/', 'http://user:pw@example.com/'],
    ['../x?y#z', 'http://example.com/a/x?y', 'http://example.com/a/b/c'],
    ['//other.example/p', 'https://other.example/p', 'https://example.com/'],
  ];
  for (const [input, expected, base] of accepted) {
    it(`${JSON.stringify(input)}${base ? ` against ${base}` : ''} → ${expected}`, () => {
      const n = normalizeUrl(input, base);
      assert.deepEqual(n, { ok: true, url: expected, host: new URL(expected).hostname });
      assert.deepEqual(normalizeUrl(expected), n, 'normalization is idempotent');
    });
  }

  const rejected: [input: string, reason: string, base?: string][] = [
    ['ftp://example.com/file', 'scheme ftp: is not http(s)'],
    ['javascript:alert(1)', 'scheme javascript: is not http(s)'],
    ['mailto:someone@example.com', 'scheme mailto: is not http(s)'],
    ['file:///etc/passwd', 'scheme file: is not http(s)'],
    ['data:text/html,hi', 'scheme data: is not http(s)'],
    ['not a url', 'not a URL'],
    ['http://', 'not a URL'],
    ['http://exa mple.com/', 'not a URL'],
    ['/relative/without/base', 'not a URL'],
    ['x', 'not a URL', 'not a base either'],
  ];
  for (const [input, reason, base] of rejected) {
    it(`rejects ${JSON.stringify(input)}: ${reason}`, () => {
      assert.deepEqual(normalizeUrl(input, base), { ok: false, reason });
    });
  }

  it('accepts exactly 8 KiB and rejects one byte more', () => {
    const prefix = 'http://example.com/';
    const max = prefix + 'a'.repeat(MAX_URL_BYTES - prefix.length);
    assert.equal(MAX_URL_BYTES, 8192);
    assert.equal(normalizeUrl(max).ok, true);
    assert.deepEqual(normalizeUrl(max + 'a'), { ok: false, reason: 'longer than 8 KiB' });
  });

  it('measures the normalized length, so escapes that decode can bring a URL under the limit', () => {
    const input = 'http://example.com/' + '%41'.repeat(3000);
    assert.ok(input.length > MAX_URL_BYTES);
    const n = normalizeUrl(input);
    assert.equal(n.ok && n.url, 'http://example.com/' + 'A'.repeat(3000));
  });

  it('counts bytes, not characters, against the limit', () => {
    // Each é becomes %C3%A9: six bytes.
    const n = normalizeUrl('http://example.com/' + 'é'.repeat(1400));
    assert.deepEqual(n, { ok: false, reason: 'longer than 8 KiB' });
  });

  it('hostOf gives the lowercase hostname without port, or null', () => {
    assert.equal(hostOf('HTTPS://WWW.Example.com:8443/x'), 'www.example.com');
    assert.equal(hostOf('http://[::1]:9000/'), '[::1]');
    assert.equal(hostOf('mailto:a@b.c'), null);
  });

  it('requestTarget is the path and query of a normalized URL', () => {
    assert.equal(requestTarget('http://u:p@example.com:8080/a/b?c=/d'), '/a/b?c=/d');
    assert.equal(requestTarget('http://[::1]/'), '/');
  });

  it('originOf reads the origin of a normalized URL as the URL parser would', () => {
    for (const input of [
      'http://example.com/',
      'https://Example.com:8443/a/b?c=d@e',
      'http://user:p%40ss@host.example:81/x@y',
      'http://u@h.example/',
      'http://[::1]:8080/p',
      'http://127.0.0.2:4000/?q=//x/',
      'https://xn--caf-dma.example/é',
    ]) {
      const n = normalizeUrl(input);
      assert.ok(n.ok, input);
      assert.equal(originOf(n.url), new URL(n.url).origin, input);
    }
  });

  it('canonicalEscapes returns canonical input unchanged and rewrites from the first change on', () => {
    assert.equal(canonicalEscapes("/a-b_c.d~e/!$&'()*+,;=:@", PATH_LITERALS), "/a-b_c.d~e/!$&'()*+,;=:@");
    assert.equal(canonicalEscapes('/ok/then%7e%2f space', PATH_LITERALS), '/ok/then~%2F%20space');
    assert.equal(canonicalEscapes('/100%', PATH_LITERALS), '/100%25');
  });

  it('canonicalEscapes escapes astral characters as four UTF-8 bytes', () => {
    assert.equal(canonicalEscapes('/😀', PATH_LITERALS), '/%F0%9F%98%80');
  });
});

describe('globMatch', () => {
  it('anchors at both ends and lets * span slashes', () => {
    assert.equal(globMatch('http://a/*', 'http://a/x/y/z'), true);
    assert.equal(globMatch('*/private', 'http://a/private'), true);
    assert.equal(globMatch('*/private', 'http://a/private/x'), false);
    assert.equal(globMatch('http://a/*.pdf', 'http://a/b.pdf?x'), false);
    assert.equal(globMatch('a*b*c', 'abc'), true);
    assert.equal(globMatch('a**', 'a'), true);
    assert.equal(globMatch('', ''), true);
  });

  it('treats regex metacharacters literally', () => {
    assert.equal(globMatch('http://a/?q=(x)+.', 'http://a/?q=(x)+.'), true);
    assert.equal(globMatch('http://a/.', 'http://a/b'), false);
  });

  it('handles many stars over a long input', () => {
    assert.equal(globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(20000)), false);
    assert.equal(globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(20000) + 'b'), true);
  });

  it('anchors both ends, and the first and last segments may not overlap', () => {
    const cases: [glob: string, text: string, matches: boolean][] = [
      ['ab', 'ab', true],
      ['ab', 'abc', false],
      ['ab', 'xab', false],
      ['', 'a', false],
      ['*', '', true],
      ['*', 'anything', true],
      ['a*', 'a', true],
      ['*a', 'ba', true],
      ['*a', 'ab', false],
      ['a*a', 'a', false],
      ['a*a', 'aa', true],
      ['ab*ba', 'aba', false],
      ['ab*ba', 'abba', true],
    ];
    for (const [glob, text, matches] of cases) assert.equal(new Glob(glob).test(text), matches, `${glob} ~ ${text}`);
  });

  it('consecutive stars are one star, and leave no empty segment to find', () => {
    const cases: [glob: string, text: string, matches: boolean][] = [
      ['a***b', 'ab', true],
      ['a***b', 'axyb', true],
      ['**', '', true],
      ['***a***', 'a', true],
      ['***a***', 'b', false],
      ['a**b**c', 'abc', true],
    ];
    for (const [glob, text, matches] of cases) assert.equal(new Glob(glob).test(text), matches, `${glob} ~ ${text}`);
  });

  it('finds middle segments whose starts repeat inside them (the search falls back, never restarts)', () => {
    const cases: [glob: string, text: string, matches: boolean][] = [
      ['*aab*', 'aaab', true],
      ['*abab*', 'abaabab', true],
      ['*abac*', 'ababac', true],
      ['*abc*', 'ababab', false],
      ['x*ab*ab*y', 'xabaaby', true],
      ['x*ab*ab*y', 'xabay', false],
      ['*aa*a', 'aaa', true],
      ['*aa*a', 'aa', false],
    ];
    for (const [glob, text, matches] of cases) assert.equal(new Glob(glob).test(text), matches, `${glob} ~ ${text}`);
  });

  it('answers as a simple reference matcher does, on random globs and texts', () => {
    // All positions of the text each prefix of the glob can end at: quadratic, obviously right.
    const reference = (glob: string, text: string): boolean => {
      let ends = [0];
      for (const ch of glob) {
        ends =
          ch === '*'
            ? ends.length === 0
              ? []
              : Array.from({ length: text.length - ends[0] + 1 }, (_, i) => ends[0] + i)
            : ends.filter((e) => text[e] === ch).map((e) => e + 1);
      }
      return ends.includes(text.length);
    };
    const glob = fc.array(fc.constantFrom('a', 'b', '*'), { maxLength: 10 }).map((a) => a.join(''));
    const text = fc.array(fc.constantFrom('a', 'b'), { maxLength: 14 }).map((a) => a.join(''));
    checkSync(
      fc.property(glob, text, (g, t) => {
        assert.equal(new Glob(g).test(t), reference(g, t), `${g} ~ ${t}`);
        assert.equal(globMatch(g, t), reference(g, t), `globMatch ${g} ~ ${t}`);
      }),
      3000,
    );
  });

  it("does at most the glob's length plus twice the text's in steps, whatever the glob", () => {
    const glob = fc
      .array(
        fc.oneof(
          fc.constantFrom('*', 'a', 'b'),
          fc.constantFrom('a', 'ab', 'aab').map((s) => s.repeat(20)),
        ),
        { maxLength: 30 },
      )
      .map((a) => a.join(''));
    const text = fc
      .tuple(fc.constantFrom('a', 'ab', 'aab', 'b'), fc.integer({ min: 0, max: 400 }), fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 5 }))
      .map(([unit, n, end]) => unit.repeat(n) + end);
    checkSync(
      fc.property(glob, text, (g, t) => {
        const work: GlobWork = { steps: 0 };
        new Glob(g).test(t, work);
        assert.ok(work.steps <= 1 + g.length + 2 * t.length, `${work.steps} steps for a ${g.length}-character glob and a ${t.length}-character text`);
      }),
      500,
    );
    // The shape that took 12 s per robots.txt verdict with backtracking: a long segment after a star.
    const work: GlobWork = { steps: 0 };
    assert.equal(new Glob('/*' + 'a'.repeat(4000) + 'b').test('/' + 'a'.repeat(8191), work), false);
    assert.ok(work.steps <= 4002 + 2 * 8192, `${work.steps} steps`);
  });

  it("a crawl's include/exclude globs cost linear time, whatever a client sends", async () => {
    // 100 patterns of 1,000 characters, the most a crawl may have: with backtracking, 4.7 s a URL.
    const exclude = Array.from({ length: 100 }, (_, i) => `*${'a'.repeat(996)}b${i % 10}`);
    const long = 'http://127.0.0.2/' + 'a'.repeat(MAX_URL_BYTES - 'http://127.0.0.2/'.length);
    const urls = [...Array.from({ length: 9 }, (_, i) => long.slice(0, long.length - i)), long.slice(0, 5000) + 'a'.repeat(996) + 'b3'];
    const verdicts = await answersWithin(
      20_000,
      (d) => {
        const { compileScope } = require(d.scopeJs) as typeof import('../../server/src/crawl/scope');
        const scope = compileScope({ seeds: [], scope: 'any', exclude: d.exclude });
        return d.urls.map((u) => scope.allows(u));
      },
      { scopeJs: require.resolve('../../server/src/crawl/scope'), exclude, urls },
    );
    assert.deepEqual(verdicts, [...Array(9).fill(true), `excluded by ${exclude[3]}`]);
  });
});

describe('compileScope', () => {
  it('host scope allows only the seeds hosts, any scheme or port', () => {
    const s = compileScope({ seeds: ['https://a.example.co.uk/start', 'http://127.0.0.1:8080/'], scope: 'host' });
    assert.equal(s.allows('http://A.example.co.uk:8443/x'), true);
    assert.equal(s.allows('http://127.0.0.1/'), true);
    assert.equal(s.allows('https://b.example.co.uk/'), 'host b.example.co.uk is not a seed host');
    assert.equal(s.allows('javascript:void(0)'), 'scheme javascript: is not http(s)');
  });

  it('allowsNormalized gives the verdict allows gives, without parsing again', () => {
    const s = compileScope({ seeds: ['https://example.com/'], scope: 'host', exclude: ['*/private/*'] });
    for (const url of ['https://example.com/a', 'http://example.com:8080/b', 'https://other.example/', 'https://example.com/private/x']) {
      const n = normalizeUrl(url);
      assert.ok(n.ok);
      assert.equal(s.allowsNormalized(n), s.allows(url), url);
    }
  });

  it('domain scope groups hosts by registrable domain', () => {
    const s = compileScope({ seeds: ['https://a.example.co.uk/'], scope: 'domain' });
    assert.equal(s.allows('https://b.example.co.uk/x'), true);
    assert.equal(s.allows('https://example.co.uk/'), true);
    assert.equal(s.allows('https://deep.er.example.co.uk/'), true);
    assert.equal(s.allows('https://other.co.uk/'), 'domain other.co.uk is not a seed domain');
    assert.equal(s.allows('https://example.com/'), 'domain example.com is not a seed domain');
  });

  it('domain scope treats private suffixes and IP addresses as their own domains', () => {
    const s = compileScope({ seeds: ['https://alice.github.io/', 'http://127.0.0.2:9000/'], scope: 'domain' });
    assert.equal(s.allows('https://alice.github.io/repo'), true);
    assert.equal(s.allows('https://bob.github.io/'), 'domain bob.github.io is not a seed domain');
    assert.equal(s.allows('http://127.0.0.2/other-port'), true);
    assert.equal(s.allows('http://127.0.0.3/'), 'domain 127.0.0.3 is not a seed domain');
  });

  it('any scope allows every crawlable URL', () => {
    const s = compileScope({ seeds: [], scope: 'any' });
    assert.equal(s.allows('https://anything.example/'), true);
    assert.equal(s.allows('ftp://anything.example/'), 'scheme ftp: is not http(s)');
  });

  it('include globs restrict, exclude wins over include', () => {
    const s = compileScope({
      seeds: ['https://example.com/'],
      scope: 'host',
      include: ['https://example.com/docs/*', 'https://example.com/'],
      exclude: ['*.pdf', '*/private/*'],
    });
    assert.equal(s.allows('https://example.com/'), true);
    assert.equal(s.allows('https://example.com/docs/a/b'), true);
    assert.equal(s.allows('https://example.com/blog'), 'matches no include pattern');
    assert.equal(s.allows('https://example.com/docs/manual.pdf'), 'excluded by *.pdf');
    assert.equal(s.allows('https://example.com/docs/private/x'), 'excluded by */private/*');
    assert.equal(s.allows('https://example.com/docs/manual.pdf?v=2'), true, 'globs are anchored at the end');
  });

  it('matches patterns against the normalized URL', () => {
    const s = compileScope({ seeds: ['https://example.com/'], scope: 'host', exclude: ['https://example.com/~*'] });
    assert.equal(s.allows('HTTPS://EXAMPLE.COM:443/%7Ejoe#top'), 'excluded by https://example.com/~*');
  });

  it('/.../ patterns are regular expressions, searched in the URL, with flags', () => {
    const s = compileScope({
      seeds: ['https://example.com/'],
      scope: 'any',
      include: ['/^https://example\\.com/(a|b)/i'],
      exclude: ['/[?&]sessionid=/'],
    });
    assert.equal(s.allows('https://example.com/a/1'), true);
    assert.equal(s.allows('https://example.com/B/1'), true);
    assert.equal(s.allows('https://example.com/c/1'), 'matches no include pattern');
    assert.equal(s.allows('https://example.com/a/1?x=1&sessionid=9'), 'excluded by /[?&]sessionid=/');
  });

  it('reports every invalid regex, flag and seed at compile time, naming each', () => {
    assert.throws(
      () =>
        compileScope({
          seeds: ['https://example.com/', 'gopher://old.example/'],
          scope: 'host',
          include: ['/(unclosed/'],
          exclude: ['/ok/', '/x/g'],
        }),
      (err: unknown) => {
        assert.ok(err instanceof ScopeError);
        assert.equal(err.problems.length, 3);
        assert.match(err.problems[0], /^seed gopher:\/\/old\.example\/: scheme gopher: is not http\(s\)$/);
        assert.match(err.problems[1], /^pattern \/\(unclosed\/: invalid or unsupported regular expression/);
        assert.match(err.problems[2], /^pattern \/x\/g: unsupported regex flags "g"/);
        return true;
      },
    );
  });

  it('a regex is matched in linear time: a catastrophic pattern cannot hang the daemon, a backreference is refused', () => {
    const evil = '/(a+)+$/';
    const s = compileScope({ seeds: ['https://example.com/'], scope: 'host', exclude: [evil] });
    // A backtracking engine needs about 2^n steps on n a's and one b: this would not return.
    assert.equal(s.allows(`https://example.com/${'a'.repeat(5_000)}b`), true);
    assert.equal(s.allows('https://example.com/aaa'), `excluded by ${evil}`);
    assert.throws(
      () => compileScope({ seeds: ['https://example.com/'], scope: 'host', include: ['/(a)\\1/'] }),
      (err: unknown) => err instanceof ScopeError && /no backreferences/.test(err.problems[0]),
    );
  });

  it('host and domain scopes need a seed', () => {
    assert.throws(() => compileScope({ seeds: [], scope: 'domain' }), /scope "domain" needs at least one seed/);
  });
});
