//! An import's way out: rows gathered into batches ([`batch`]), batches
//! written as request bodies ([`body`]), sent and their answers read
//! ([`send`]), and an audience's replace ([`replace`]).

pub mod batch;
pub mod body;
pub mod replace;
pub mod send;
