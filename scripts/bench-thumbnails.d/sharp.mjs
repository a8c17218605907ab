// The same thumbnail step with sharp (libvips), one thread: decode, apply
// EXIF orientation, resize to 1024 and 256 px on the long side, encode JPEG
// at quality 80 (metadata is dropped by default). Prints images per second.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";

const [dir, seconds] = process.argv.slice(2);
sharp.concurrency(1);
sharp.cache(false);
const photos = readdirSync(dir).filter((f) => f.endsWith(".jpg")).map((f) => readFileSync(join(dir, f)));
const budget = Number(seconds) * 1000;
const started = performance.now();
let done = 0;
while (performance.now() - started < budget) {
  const photo = photos[done % photos.length];
  for (const size of [256, 1024]) {
    await sharp(photo).rotate().resize(size, size, { fit: "inside", withoutEnlargement: true })
      .jpeg({ quality: 80 }).toBuffer();
  }
  done += 1;
}
console.log((done / ((performance.now() - started) / 1000)).toFixed(2));
