//! The emulator reads request bodies as [`Val`], which lives in `api` because
//! the transform checks JSON cells with the same rules.

pub(crate) use batchport_api::value::Val;
