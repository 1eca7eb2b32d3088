import { describe, expect, it } from 'vitest';
import { locateJsonError } from './json-error.js';

describe('locateJsonError', () => {
  it('finds nothing in valid JSON', () => {
    expect(locateJsonError('{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n"], "b": {}}')).toBeUndefined();
  });

  it.each([
    ['{"a": "b\\q"}', 1, 10, 'bad escape'],
    ['{"a": "b', 1, 9, 'unterminated string'],
    ['{"a": 1}\n  x', 2, 3, 'unexpected text after the JSON value'],
    ['{"a": 01}', 1, 8, "expected ',' or '}'"],
    ['[1,]', 1, 4, 'unexpected "]"'],
    ['{"a": "\u0001"}', 1, 8, 'control character in string'],
  ])('locates %j', (text, line, column, reason) => {
    expect(locateJsonError(text)).toEqual({ line, column, reason });
    expect(() => JSON.parse(text)).toThrow(); // agrees that it is invalid
  });
});
