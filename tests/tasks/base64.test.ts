import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../src/core/tasks/spec.ts';

// The strict rule decodeBase64 must keep, whichever of its two paths a text takes: whitespace is ignored, and what
// remains must be base64 (either alphabet) with at most two '=' at the end.
function strict(value: string): Buffer | 'refused' {
  const text = value.replace(/\s+/g, '');
  return text.length > 0 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : 'refused';
}

function attempt(value: string): Buffer | 'refused' {
  try {
    return Buffer.from(decodeBase64(value, 'inputs'));
  } catch {
    return 'refused';
  }
}

describe('decodeBase64', () => {
  it('decodes a file, with or without line breaks and a data: URL prefix', () => {
    const file = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) & 255));
    const b64 = file.toString('base64');
    expect(Buffer.from(decodeBase64(b64, 'inputs')).equals(file)).toBe(true);
    expect(Buffer.from(decodeBase64(b64.replace(/.{76}/g, '$&\r\n'), 'inputs')).equals(file)).toBe(true);
    expect(Buffer.from(decodeBase64(`data:image/png;base64,${b64}`, 'inputs')).equals(file)).toBe(true);
    expect(Buffer.from(decodeBase64(file.toString('base64url'), 'inputs')).equals(file)).toBe(true);
  });

  it('refuses text that is not base64, naming the field', () => {
    for (const bad of ['', '   ', 'hello world!', 'https://example.com/cat.png', 'QUJD=RA==', 'QUJD\u0000', 'QUJD===', 'é'.repeat(8)]) {
      expect(() => decodeBase64(bad, 'inputs.image'), JSON.stringify(bad)).toThrow(/inputs\.image: expected base64/);
    }
  });

  it('agrees with the strict rule on 60,000 random texts of alphabet, padding, whitespace and junk', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_';
    const others = ['=', ' ', '\n', '\t', '!', '.', 'é', '\0', '%', ':', '😀'];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    let accepted = 0;
    for (let i = 0; i < 60_000; i++) {
      let s = '';
      const length = 1 + Math.floor(random() * 14);
      for (let j = 0; j < length; j++) s += random() < 0.85 ? alphabet[Math.floor(random() * alphabet.length)] : others[Math.floor(random() * others.length)];
      const want = strict(s);
      const got = attempt(s);
      if (want === 'refused' || got === 'refused') expect(got, JSON.stringify(s)).toBe(want);
      else {
        accepted++;
        expect(got.equals(want), JSON.stringify(s)).toBe(true);
      }
    }
    expect(accepted).toBeGreaterThan(3_000);
  });
});
