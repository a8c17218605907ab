//! The thumbnail step, timed (used by `scripts/bench-thumbnails`).
//!
//!   thumbnail_bench generate DIR N    writes N 12 MP photo-like JPEGs
//!   thumbnail_bench run DIR SECONDS   prints images per second, one thread
//!
//! "Photo-like": smooth gradients and shapes with fine noise, encoded at
//! quality 90, so the JPEG decoder does the work a camera photo gives it.

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atrium::large_work;

/// The service's allocator, so the figures are the service's.
#[global_allocator]
static GLOBAL: atrium::allocator::Allocator = atrium::allocator::Allocator {};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => generate(Path::new(&args[2]), args[3].parse().unwrap()),
        Some("run") => run(Path::new(&args[2]), args[3].parse().unwrap()),
        _ => eprintln!("usage: thumbnail_bench generate DIR N | run DIR SECONDS"),
    }
}

fn generate(dir: &Path, count: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let (width, height) = (4000u32, 3000u32);
    for n in 0..count {
        let mut seed = 0x9E37_79B9u32.wrapping_mul(n + 1);
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 9) as f32 - 4.0;
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            let wave = ((fx * 12.0 + n as f32).sin() * (fy * 9.0).cos() * 60.0) + noise;
            let r = 90.0 + 120.0 * fx + wave;
            let g = 60.0 + 150.0 * fy + wave * 0.5;
            let b = 180.0 - 100.0 * fx * fy + wave * 0.8;
            image::Rgb([
                r.clamp(0.0, 255.0) as u8,
                g.clamp(0.0, 255.0) as u8,
                b.clamp(0.0, 255.0) as u8,
            ])
        });
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut bytes), 90)
            .encode_image(&image)
            .unwrap();
        std::fs::write(dir.join(format!("photo-{n}.jpg")), bytes).unwrap();
    }
}

fn run(dir: &Path, seconds: f64) {
    // As the service runs: pages emptied by requests go back at once, and
    // photos are made on the large-work threads, which keep theirs while
    // photos keep coming.
    atrium::allocator::release_empty_pages_at_once();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let photos: Vec<Arc<[u8]>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .map(|p| std::fs::read(p).unwrap().into())
        .collect();
    let budget = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut done = 0u32;
    while started.elapsed() < budget {
        let photo = Arc::clone(&photos[done as usize % photos.len()]);
        let made = large_work::run(move || atrium::uploads::inspect::thumbnails(&photo));
        let thumbnails = runtime.block_on(made).unwrap().expect("thumbnails");
        assert_eq!(thumbnails.encoded.len(), 2);
        done += 1;
    }
    let rate = f64::from(done) / started.elapsed().as_secs_f64();
    println!("{rate:.2}");
}
