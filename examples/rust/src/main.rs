//! quickstart: an mba array from Rust, attached by a second handle as another process would.
use mba::{Array, Dtype, Options};

fn main() -> Result<(), mba::Error> {
    let a = Array::create("shm://sensor", Dtype::F64, 0, Options::default())?;
    for i in 0..1000 {
        a.push(i as f64 * 0.5)?;
    }
    let b = Array::attach("shm://sensor", Options { read_only: true, ..Default::default() })?;
    let last = b.get::<f64>(b.len() - 1)?;
    println!("len={} last={last}", b.len());
    mba::delete("shm://sensor")?; // the name outlives the process until deleted
    Ok(())
}
