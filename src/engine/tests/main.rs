//! The engine from outside, below the binary: the reading-and-mapping
//! pipeline under random hostile files (`fuzz.rs`).

mod fuzz;
