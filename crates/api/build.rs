//! Rebuilds chirp-api when anything in the web client's folder changes, files added included
//! (`include_dir!` alone notices only changes to files it embedded before).
fn main() {
    println!("cargo:rerun-if-changed=../../web/src");
}
