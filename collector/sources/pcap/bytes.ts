// Unsigned integer reads by index math. No DataView: the window buffer changes between calls and
// a DataView per call would be an allocation on the hot path.

export function u16le(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}
export function u16be(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}
export function u32le(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}
export function u32be(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}
export function u16(b: Uint8Array, i: number, littleEndian: boolean): number {
  return littleEndian ? u16le(b, i) : u16be(b, i);
}
export function u32(b: Uint8Array, i: number, littleEndian: boolean): number {
  return littleEndian ? u32le(b, i) : u32be(b, i);
}
