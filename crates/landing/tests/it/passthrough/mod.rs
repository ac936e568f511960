//! Pass-through puts: objects landed whole, with and without a sidecar.

mod put_whole;
mod put_with_sidecar;
