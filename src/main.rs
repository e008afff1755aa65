//! The `sattva` binary: see [`sattva::cli`].

fn main() {
    sattva::cli::main()
}
