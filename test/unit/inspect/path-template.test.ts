import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { PathFolder, templatePath } from '../../../collector/inspect/path-template.js';
import { MAX_PATH, TRUNCATION_MARKER } from '../../../collector/inspect/text.js';

describe('templatePath', () => {
  const cases: Array<[string, string]> = [
    ['/users/12345/orders?page=2#top', '/users/{id}/orders'],
    ['/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301', '/items/{id}'],
    ['/blobs/deadbeefcafebabe0123', '/blobs/{id}'],
    ['/t/eyJhbGciOiJIUzI1NiJ9abc123', '/t/{id}'],
    ['/api/v1/configuration-settings-page', '/api/v1/configuration-settings-page'],
    ['/hipstershop.CartService/GetCart', '/hipstershop.CartService/GetCart'],
    ['http://example.com/a/42?x', '/a/{id}'],
    ['/a%2Fb/%7euser/%41', '/a%2Fb/~user/A'],
    ['*', '*'],
    ['example.com:443', 'example.com:443'],
    ['/', '/'],
  ];
  for (const [input, expected] of cases) it(`${input} → ${expected}`, () => assert.equal(templatePath(input), expected));

  it('caps long paths with the marker', () => {
    const t = templatePath('/' + 'abc/'.repeat(2000));
    assert.equal(t.length, MAX_PATH);
    assert.ok(t.endsWith(TRUNCATION_MARKER));
  });
});

describe('PathFolder', () => {
  it('keeps N templates per edge and folds the rest into a common prefix', () => {
    const f = new PathFolder(3, 10);
    assert.equal(f.fold('e', '/api/users'), '/api/users');
    assert.equal(f.fold('e', '/api/orders'), '/api/orders');
    assert.equal(f.fold('e', '/static/a.css'), '/static/a.css');
    assert.equal(f.fold('e', '/api/users'), '/api/users', 'known templates pass through');
    assert.equal(f.fold('e', '/api/items'), '/api/*');
    assert.equal(f.fold('e', '/static/b.css'), '/static/*');
    assert.equal(f.fold('e', '/other'), '/*');
    assert.equal(f.fold('other-edge', '/other'), '/other', 'per edge');
  });

  it('bounds the number of edges, evicting the least recently used', () => {
    const f = new PathFolder(1, 2);
    f.fold('a', '/x');
    f.fold('b', '/x');
    f.fold('a', '/x');
    f.fold('c', '/x'); // evicts b
    assert.equal(f.evictedEdges, 1);
    assert.equal(f.fold('a', '/y'), '/*', 'a still remembered');
    assert.equal(f.fold('b', '/y'), '/y', 'b forgotten, starts afresh');
  });
});
