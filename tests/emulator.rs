//! The emulator over real HTTP.
