//! The one integration test binary: each module below owns one area.

mod emulator;
