//! The `sattva` binary: see [`sattva::cli`].

#![forbid(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

fn main() {
    sattva::cli::main()
}
