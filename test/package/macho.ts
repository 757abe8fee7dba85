// Enough Mach-O to check a macOS executable on Linux, where it cannot run: its CPU, the NODE_SEA segment postject
// adds, and that its ad-hoc code signature covers the file as shipped (every page hash of the CodeDirectory is
// recomputed, which is what the macOS kernel checks when it maps the pages).
import { createHash } from 'node:crypto';

const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CS_ADHOC = 0x2;
export const CPU = { x86_64: 0x01000007, arm64: 0x0100000c } as const;

export interface MachOCheck {
  cpu: number;
  segments: string[];
  signed: boolean;
  adhoc: boolean;
  /** Page hashes that differ from the file's content; empty when the signature is valid for these bytes. */
  badPages: number[];
}

export function checkMachO(file: Buffer): MachOCheck {
  if (file.readUInt32LE(0) !== 0xfeedfacf) throw new Error('not a 64-bit little-endian Mach-O');
  const cpu = file.readUInt32LE(4);
  const ncmds = file.readUInt32LE(16);
  const segments: string[] = [];
  let signature: { off: number; size: number } | undefined;
  for (let i = 0, at = 32; i < ncmds; i++) {
    const cmd = file.readUInt32LE(at);
    if (cmd === LC_SEGMENT_64) segments.push(file.toString('latin1', at + 8, at + 24).replace(/\0+$/, ''));
    if (cmd === LC_CODE_SIGNATURE) signature = { off: file.readUInt32LE(at + 8), size: file.readUInt32LE(at + 12) };
    at += file.readUInt32LE(at + 4);
  }
  if (!signature) return { cpu, segments, signed: false, adhoc: false, badPages: [] };
  const sb = signature.off;
  if (file.readUInt32BE(sb) !== 0xfade0cc0) throw new Error('LC_CODE_SIGNATURE does not point at an embedded signature');
  let cd = -1;
  for (let i = 0; i < file.readUInt32BE(sb + 8); i++) {
    if (file.readUInt32BE(sb + 12 + i * 8) === 0) cd = sb + file.readUInt32BE(sb + 16 + i * 8);
  }
  if (cd < 0 || file.readUInt32BE(cd) !== 0xfade0c02) throw new Error('no CodeDirectory in the signature');
  const flags = file.readUInt32BE(cd + 12);
  const hashOffset = file.readUInt32BE(cd + 16);
  const nCodeSlots = file.readUInt32BE(cd + 28);
  const codeLimit = file.readUInt32BE(cd + 32);
  const hashSize = file.readUInt8(cd + 36);
  const hashType = file.readUInt8(cd + 37);
  const pageSize = 2 ** file.readUInt8(cd + 39);
  if (hashType !== 2 || hashSize !== 32) throw new Error(`unexpected hash type ${hashType}/${hashSize} (sha256 expected)`);
  const badPages: number[] = [];
  for (let page = 0; page < nCodeSlots; page++) {
    const start = page * pageSize;
    const actual = createHash('sha256').update(file.subarray(start, Math.min(start + pageSize, codeLimit))).digest();
    if (!actual.equals(file.subarray(cd + hashOffset + page * 32, cd + hashOffset + page * 32 + 32))) badPages.push(page);
  }
  if (Math.ceil(codeLimit / pageSize) !== nCodeSlots || codeLimit !== signature.off) badPages.push(-1);
  return { cpu, segments, signed: true, adhoc: (flags & CS_ADHOC) !== 0, badPages };
}
