//! An import's way out: rows gathered into batches ([`batch`]), batches
//! written as request bodies ([`body`]), sent and their answers read
//! ([`send`]), and an audience's replace ([`replace`]).

pub(crate) mod batch;
pub(crate) mod body;
pub(crate) mod replace;
pub(crate) mod send;
