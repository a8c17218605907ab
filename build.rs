//! Takes what `/docs` serves out of the Swagger UI distribution that the
//! `utoipa-swagger-ui-vendored` crate carries: the bundle, its stylesheet
//! and the favicons, the text ones gzipped. The whole distribution, which
//! `utoipa-swagger-ui` embeds, is 11 MB of a 46 MB binary (source maps, ES
//! module bundles nobody loads); these are 0.4 MB.

use std::io::{Cursor, Read, Write};
use std::path::Path;

use flate2::{Compression, write::GzEncoder};

/// The files `/docs` serves, and whether each is stored gzipped.
const FILES: [(&str, bool); 4] = [
    ("swagger-ui-bundle.js", true),
    ("swagger-ui.css", true),
    ("favicon-32x32.png", false),
    ("favicon-16x16.png", false),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let zip = Cursor::new(utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED);
    let mut archive = zip::ZipArchive::new(zip).expect("the vendored Swagger UI is a zip");
    for (name, gzipped) in FILES {
        let bytes = read_dist_file(&mut archive, name);
        let (file, bytes) = if gzipped {
            (format!("{name}.gz"), gzip(&bytes))
        } else {
            (name.to_string(), bytes)
        };
        std::fs::write(Path::new(&out_dir).join(file), bytes).expect("OUT_DIR is writable");
    }
}

/// `dist/{name}` from the archive, whatever its top-level folder is called.
fn read_dist_file(archive: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Vec<u8> {
    let suffix = format!("/dist/{name}");
    let path = archive
        .file_names()
        .find(|path| path.ends_with(&suffix))
        .unwrap_or_else(|| panic!("no {suffix} in the Swagger UI zip"))
        .to_string();
    let mut bytes = Vec::new();
    archive
        .by_name(&path)
        .and_then(|mut file| Ok(file.read_to_end(&mut bytes)?))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}
