/** Deterministic randomness for the Stripe sandbox: seeded data, ids and fault shares repeat run after run. */

export type Rng = () => number;

/** mulberry32: a small, fast 32-bit PRNG; returns numbers in [0, 1). */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Base-62 digits in ASCII order, so that string comparison of equal-length codes is numeric comparison. */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `value` in base 62, left-padded to `width` digits. */
export function base62(value: number, width: number): string {
  let out = '';
  let v = Math.floor(value);
  while (v > 0) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out.padStart(width, '0');
}

export function randomBase62(rng: Rng, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[Math.floor(rng() * 62)];
  return out;
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}
