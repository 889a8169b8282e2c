// A stand-in for the Pexels photo the fake image stage picks ("Brown rocks
// during golden hour"): drawn here as a PNG, since nothing outside this
// machine can be fetched. The browser test serves it for Pexels' image URLs,
// so the review page (and the README's screenshots) show a real picture.
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const mix = (a, b, t) => a.map((x, i) => Math.round(x + (b[i] - x) * t));

/// Golden-hour sky, a low sun, and two ridges of brown rock.
export function goldenHourPng(width = 960, height = 540) {
  const rows = [];
  const sun = { x: width * 0.68, y: height * 0.52, r: height * 0.09 };
  const ridge = (x, base, amp, f) => base + amp * Math.sin(x * f) + amp * 0.4 * Math.sin(x * f * 3.1 + 1.3);
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const t = y / height;
      let c = t < 0.6 ? mix([70, 96, 150], [246, 178, 107], t / 0.6) : mix([246, 178, 107], [238, 140, 80], (t - 0.6) / 0.4);
      const d = Math.hypot(x - sun.x, y - sun.y);
      if (d < sun.r) c = [255, 226, 160];
      else if (d < sun.r * 3) c = mix([255, 214, 150], c, (d - sun.r) / (sun.r * 2));
      if (y > ridge(x, height * 0.62, height * 0.05, 0.011)) c = mix([120, 84, 60], [92, 62, 44], (y - height * 0.6) / (height * 0.4));
      if (y > ridge(x, height * 0.78, height * 0.04, 0.017)) c = mix([84, 56, 40], [52, 36, 28], (y - height * 0.75) / (height * 0.25));
      row[1 + x * 3] = c[0];
      row[2 + x * 3] = c[1];
      row[3 + x * 3] = c[2];
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
