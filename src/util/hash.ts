/**
 * A 128-bit non-cryptographic hash (four FNV-1a-style lanes with different offsets, each mixed
 * with a murmur finaliser) for cache keys on the hot path, where loading node:crypto alone costs
 * ~4 ms (bench/startup.mjs). The inputs are the user's own configuration, never attacker-chosen,
 * so only accidental collisions matter, and 128 bits make those impossible in practice.
 */
export function hash128(input: string): string {
  const lanes = [0x811c9dc5, 0x050c5d1f, 0x2b6e5a3d, 0x7f4a7c15];
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    for (let l = 0; l < 4; l++) {
      lanes[l] = Math.imul(lanes[l]! ^ (c + l * 0x9e37), 0x01000193);
    }
  }
  return lanes
    .map((h, l) => {
      h ^= input.length + l;
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      h ^= h >>> 16;
      return (h >>> 0).toString(16).padStart(8, '0');
    })
    .join('');
}
