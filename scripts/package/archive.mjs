// Minimal, reproducible archive writers and readers: tar.gz (ustar) and zip, regular files only, flat or with
// plain directory prefixes. Reproducible: fixed owner, fixed mtime (the caller passes SOURCE_DATE_EPOCH or the
// commit time), entries in the given order, no gzip timestamp. Enough for krew's extractor (regular files and
// directories, mode from the header) and for seeding pkg's cache with nodejs.org-shaped archives.
import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { constants, crc32, createGzip, deflateRawSync, gunzipSync, inflateRawSync } from 'node:zlib';

/** @typedef {{ name: string, file: string, mode: number }} Entry  name inside the archive, path on disk */

export async function writeTarGz(out, entries, mtime, level = constants.Z_DEFAULT_COMPRESSION) {
  async function* stream() {
    for (const e of entries) {
      const size = statSync(e.file).size;
      yield tarHeader(e.name, e.mode, size, mtime);
      for await (const chunk of createReadStream(e.file, { highWaterMark: 1 << 20 })) yield chunk;
      if (size % 512 !== 0) yield Buffer.alloc(512 - (size % 512));
    }
    yield Buffer.alloc(1024); // two zero blocks end the archive
  }
  await pipeline(stream, createGzip({ level }), createWriteStream(out));
}

function tarHeader(name, mode, size, mtime) {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long for ustar: ${name}`);
  const h = Buffer.alloc(512);
  const octal = (value, offset, length) => h.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'ascii');
  h.write(name, 0, 100, 'utf8');
  octal(mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(size, 124, 12);
  octal(mtime, 136, 12);
  h.write('        ', 148, 8, 'ascii'); // checksum is computed with this field as spaces
  h.write('0', 156, 1, 'ascii'); // regular file
  h.write('ustar\0' + '00', 257, 8, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** A zip; `store` skips compression (pkg's cache only needs the layout). */
export async function writeZip(out, entries, mtime, { store = false } = {}) {
  const ws = createWriteStream(out);
  const write = (buf) => new Promise((resolve, reject) => ws.write(buf, (err) => (err ? reject(err) : resolve())));
  const { time, date } = dosDateTime(mtime);
  const central = [];
  let offset = 0;
  for (const e of entries) {
    const data = readFileSync(e.file);
    const body = store ? data : deflateRawSync(data, { level: 9 });
    const name = Buffer.from(e.name, 'utf8');
    const fields = { method: store ? 0 : 8, time, date, crc: crc32(data), csize: body.length, usize: data.length, name };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    writeCommon(local, 4, fields);
    await write(Buffer.concat([local, name]));
    await write(body);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so that the mode below counts
    writeCommon(cd, 6, fields);
    cd.writeUInt32LE(((0o100000 | e.mode) << 16) >>> 0, 38); // external attributes: regular file + mode
    cd.writeUInt32LE(offset, 42);
    central.push(Buffer.concat([cd, name]));
    offset += 30 + name.length + body.length;
  }
  const cdBuf = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBuf.length, 12);
  end.writeUInt32LE(offset, 16);
  await write(Buffer.concat([cdBuf, end]));
  await new Promise((resolve, reject) => ws.end((err) => (err ? reject(err) : resolve())));
}

// version needed, flags (bit 11: UTF-8 names), method, time, date, crc, sizes, name length, extra length
function writeCommon(buf, at, f) {
  buf.writeUInt16LE(20, at);
  buf.writeUInt16LE(0x0800, at + 2);
  buf.writeUInt16LE(f.method, at + 4);
  buf.writeUInt16LE(f.time, at + 6);
  buf.writeUInt16LE(f.date, at + 8);
  buf.writeUInt32LE(f.crc, at + 10);
  buf.writeUInt32LE(f.csize, at + 14);
  buf.writeUInt32LE(f.usize, at + 18);
  buf.writeUInt16LE(f.name.length, at + 22);
  buf.writeUInt16LE(0, at + 24);
}

function dosDateTime(epochSeconds) {
  const d = new Date(Math.max(epochSeconds, 315532800) * 1000); // DOS dates start in 1980
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** Entries of a .tar.gz or .zip: name, mode, and a function returning the content. For tests and checks. */
export function readArchive(file) {
  const buf = readFileSync(file);
  return file.endsWith('.zip') ? readZip(buf) : readTar(gunzipSync(buf));
}

function readTar(tar) {
  const out = [];
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const str = (o, l) => h.toString('utf8', o, o + l).replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim(), 8);
    const start = at + 512;
    out.push({ name: str(0, 100), mode: parseInt(str(100, 8).trim(), 8), type: str(156, 1) || '0', content: () => tar.subarray(start, start + size) });
    at = start + Math.ceil(size / 512) * 512;
  }
  return out;
}

function readZip(zip) {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  const out = [];
  for (let i = 0, at = zip.readUInt32LE(end + 16); i < count; i++) {
    const nameLen = zip.readUInt16LE(at + 28);
    const skip = nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const method = zip.readUInt16LE(at + 10);
    const csize = zip.readUInt32LE(at + 20);
    const local = zip.readUInt32LE(at + 42);
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = () => zip.subarray(dataAt, dataAt + csize);
    out.push({ name: zip.toString('utf8', at + 46, at + 46 + nameLen), mode: (zip.readUInt32LE(at + 38) >>> 16) & 0o7777, type: '0', content: () => (method === 8 ? inflateRawSync(raw()) : raw()) });
    at += 46 + skip;
  }
  return out;
}
